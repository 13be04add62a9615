// Command validate checks Kubernetes manifests against the Kubernetes API types (k8s.io/api, as the API
// server decodes them): every document of every file given (or read from stdin, for `helm template`)
// must decode strictly, i.e. with a known apiVersion and kind, no unknown or duplicate fields, and
// every value of the right type; then a few rules of the API server's own validation that decoding
// does not cover (names, required container fields, probe ports, selector matching the pod labels).
// Kustomization files are skipped. It needs no cluster and no network.
//
//	go run ./deploy/validate deploy/kubernetes/sqlite/*.yaml
//	helm template charts/tasques | go run ./deploy/validate -
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: validate FILE... (or - for stdin)")
		os.Exit(2)
	}
	decoder := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()
	problems, objects := 0, 0
	for _, path := range os.Args[1:] {
		var data []byte
		var err error
		if path == "-" {
			data, err = io.ReadAll(os.Stdin)
		} else {
			data, err = os.ReadFile(path)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
			problems++
			continue
		}
		reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
		for i := 0; ; i++ {
			doc, err := reader.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				fmt.Fprintf(os.Stderr, "%s: document %d: %v\n", path, i, err)
				problems++
				break
			}
			var head struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
			}
			if err := yaml.Unmarshal(doc, &head); err != nil {
				fmt.Fprintf(os.Stderr, "%s: document %d: %v\n", path, i, err)
				problems++
				continue
			}
			if head.Kind == "" && len(bytes.TrimSpace(stripComments(doc))) == 0 {
				continue // an empty document (a template that rendered nothing)
			}
			if head.Kind == "Kustomization" {
				continue
			}
			obj, _, err := decoder.Decode(doc, nil, nil)
			if err != nil {
				fmt.Fprintf(os.Stderr, "%s: %s %d: %v\n", path, head.Kind, i, err)
				problems++
				continue
			}
			objects++
			for _, p := range check(obj) {
				fmt.Fprintf(os.Stderr, "%s: %s: %s\n", path, head.Kind, p)
				problems++
			}
		}
	}
	fmt.Printf("%d objects, %d problems\n", objects, problems)
	if problems > 0 || objects == 0 {
		os.Exit(1)
	}
}

func stripComments(doc []byte) []byte {
	var out []string
	for _, line := range strings.Split(string(doc), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			out = append(out, line)
		}
	}
	return []byte(strings.Join(out, "\n"))
}

// check applies rules of the API server's validation that strict decoding does not.
func check(obj runtime.Object) []string {
	var problems []string
	meta, ok := obj.(interface{ GetName() string })
	if ok && (meta.GetName() == "" || len(meta.GetName()) > 63 || !dnsLabel.MatchString(meta.GetName())) {
		problems = append(problems, fmt.Sprintf("metadata.name %q is not a DNS label", meta.GetName()))
	}
	switch o := obj.(type) {
	case *appsv1.Deployment:
		if o.Spec.Selector == nil {
			return append(problems, "spec.selector is required")
		}
		selector, err := metav1LabelSelector(o.Spec.Selector)
		if err != nil {
			problems = append(problems, err.Error())
		} else if !selector.Matches(labels.Set(o.Spec.Template.Labels)) {
			problems = append(problems, "spec.selector does not match spec.template.metadata.labels")
		}
		problems = append(problems, checkPod(&o.Spec.Template.Spec)...)
	case *batchv1.Job:
		if p := o.Spec.Template.Spec.RestartPolicy; p != corev1.RestartPolicyNever && p != corev1.RestartPolicyOnFailure {
			problems = append(problems, "a Job's restartPolicy must be Never or OnFailure")
		}
		problems = append(problems, checkPod(&o.Spec.Template.Spec)...)
	case *corev1.Service:
		if len(o.Spec.Ports) == 0 {
			problems = append(problems, "spec.ports is required")
		}
	}
	return problems
}

func checkPod(pod *corev1.PodSpec) []string {
	var problems []string
	if len(pod.Containers) == 0 {
		problems = append(problems, "a pod needs containers")
	}
	volumes := map[string]bool{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = true
	}
	for _, c := range pod.Containers {
		if c.Name == "" || c.Image == "" {
			problems = append(problems, "a container needs a name and an image")
		}
		ports := map[string]bool{}
		for _, p := range c.Ports {
			ports[p.Name] = true
		}
		for _, probe := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
			if probe != nil && probe.HTTPGet != nil && probe.HTTPGet.Port.StrVal != "" && !ports[probe.HTTPGet.Port.StrVal] {
				problems = append(problems, fmt.Sprintf("container %s: probe port %q is not a named port", c.Name, probe.HTTPGet.Port.StrVal))
			}
		}
		for _, m := range c.VolumeMounts {
			if !volumes[m.Name] {
				problems = append(problems, fmt.Sprintf("container %s: volumeMount %q has no volume", c.Name, m.Name))
			}
		}
	}
	return problems
}

func metav1LabelSelector(s *metav1.LabelSelector) (labels.Selector, error) {
	return metav1.LabelSelectorAsSelector(s)
}
