{{- define "tasques.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "tasques.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "tasques.labels" -}}
{{ include "tasques.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "tasques.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "tasques.secretName" -}}
{{ .Values.auth.existingSecret | default (include "tasques.fullname" .) }}
{{- end -}}

{{/* The container's securityContext: the image's node user, nothing else writable. */}}
{{- define "tasques.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end -}}

{{- define "tasques.validate" -}}
{{- if not (has .Values.store.kind (list "sqlite" "elasticsearch")) -}}
{{- fail (printf "store.kind must be sqlite or elasticsearch, not %q" .Values.store.kind) -}}
{{- end -}}
{{- if and (eq .Values.store.kind "sqlite") (ne (int .Values.replicaCount) 1) -}}
{{- fail "store.kind sqlite runs exactly one server (replicaCount: 1): one process owns the SQLite file. Use store.kind elasticsearch for several." -}}
{{- end -}}
{{- end -}}
