// The shop's fraud-scoring worker, in Go, on a client generated from Tasques' openapi.json with
// oapi-codegen (see ../README.md). It claims tasks from the "fraud" queue, scores each order, and marks
// it done with the score, or failed when the (simulated) scoring service is down.
//
// Environment: TASQUES_URL (default http://localhost:8080), WORKER_ID (default go-<pid>), TASQUES_TOKEN
// (a bearer token with the `worker` role, when the server has auth).
// SIGTERM/SIGINT: stop claiming, finish the task at hand, exit 0.
package main

import (
	"context"
	"fmt"
	"hash/fnv"
	"log"
	"math/rand"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"shop-example/worker-go/tasquesclient"
)

const queue = "fraud"

func main() {
	server := getenv("TASQUES_URL", "http://localhost:8080")
	workerID := getenv("WORKER_ID", fmt.Sprintf("go-%d", os.Getpid()))
	// The HTTP timeout must exceed block_for: a claim waits that long when there is nothing to do.
	httpClient := &http.Client{Timeout: 15 * time.Second}
	options := []tasquesclient.ClientOption{tasquesclient.WithHTTPClient(httpClient)}
	if token := os.Getenv("TASQUES_TOKEN"); token != "" {
		options = append(options, tasquesclient.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
			req.Header.Set("Authorization", "Bearer "+token)
			return nil
		}))
	}
	client, err := tasquesclient.NewClientWithResponses(server, options...)
	if err != nil {
		log.Fatalf("client: %v", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	log.Printf("fraud worker %s polling %s", workerID, server)

	amount, blockFor := 4, "2s"
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		// Not tied to ctx: a claim in flight is allowed to finish, so that no claimed task is stranded.
		resp, err := client.ClaimTasksWithResponse(context.Background(),
			&tasquesclient.ClaimTasksParams{XTasquesWorkerId: workerID},
			tasquesclient.TaskClaim{Queues: []string{queue}, Amount: &amount, BlockFor: &blockFor})
		if err != nil || resp.JSON200 == nil {
			// Server down or overloaded: back off and try again; never give up.
			log.Printf("claim failed (%v, status %d); retrying in %s", err, status(resp), backoff)
			sleep(ctx, backoff)
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		for _, task := range *resp.JSON200 {
			if ctx.Err() != nil {
				// Stopping: give the rest back without counting the attempt.
				client.UnclaimExistingTaskWithResponse(context.Background(), task.Queue, task.Id,
					&tasquesclient.UnclaimExistingTaskParams{XTasquesWorkerId: workerID})
				fmt.Printf("unclaimed %s/%s\n", task.Queue, task.Id)
				continue
			}
			handle(client, workerID, task)
		}
	}
	log.Printf("fraud worker %s stopped", workerID)
}

// handle scores one order. Scoring is deterministic so that the result can be checked.
func handle(client *tasquesclient.ClientWithResponses, workerID string, task tasquesclient.TaskTask) {
	ctx := context.Background()
	args := map[string]interface{}{}
	if task.Args != nil {
		args = *task.Args
	}
	report := map[string]interface{}{"stage": "scoring", "by": "go"}
	client.ReportOnClaimedTaskWithResponse(ctx, task.Queue, task.Id,
		&tasquesclient.ReportOnClaimedTaskParams{XTasquesWorkerId: workerID},
		tasquesclient.TaskNewReport{Data: &report})

	var outcome map[string]interface{}
	failed := false
	if outage, _ := args["simulate_outage"].(bool); outage && task.Attempted == 1 {
		failed = true
		outcome = map[string]interface{}{"error": "fraud scoring service unavailable (simulated)", "by": "go"}
	} else {
		score := Score(args)
		decision := "approve"
		if score >= 70 {
			decision = "review"
		}
		outcome = map[string]interface{}{"score": score, "decision": decision, "by": "go", "attempt": task.Attempted}
	}

	for attempt := 0; ; attempt++ {
		var code int
		var err error
		if failed {
			var r *tasquesclient.MarkClaimedTaskFailedResponse
			r, err = client.MarkClaimedTaskFailedWithResponse(ctx, task.Queue, task.Id,
				&tasquesclient.MarkClaimedTaskFailedParams{XTasquesWorkerId: workerID}, tasquesclient.TaskFailure{Data: &outcome})
			code = statusOf(r, err)
		} else {
			var r *tasquesclient.MarkClaimedTaskDoneResponse
			r, err = client.MarkClaimedTaskDoneWithResponse(ctx, task.Queue, task.Id,
				&tasquesclient.MarkClaimedTaskDoneParams{XTasquesWorkerId: workerID}, tasquesclient.TaskSuccess{Data: &outcome})
			code = statusOf(r, err)
		}
		switch {
		case code == 200:
			if failed {
				fmt.Printf("failed %s/%s\n", task.Queue, task.Id)
			} else {
				fmt.Printf("done %s/%s\n", task.Queue, task.Id)
			}
			return
		case code == 400 || code == 403 || code == 404:
			// The claim is gone (timed out, taken over): the task will run again elsewhere.
			log.Printf("lost the claim on %s/%s (%d)", task.Queue, task.Id, code)
			return
		case attempt >= 5:
			log.Printf("giving up on recording %s/%s; it will time out and run again", task.Queue, task.Id)
			return
		default:
			time.Sleep(time.Duration(100*(attempt+1)) * time.Millisecond)
		}
	}
}

// Score is a toy risk score in [0, 100): larger amounts and some countries score higher.
func Score(args map[string]interface{}) int {
	amount, _ := args["amount_cents"].(float64)
	country, _ := args["country"].(string)
	email, _ := args["email"].(string)
	h := fnv.New32a()
	h.Write([]byte(email))
	score := int(amount/1000) + int(h.Sum32()%20)
	if country != "FR" && country != "DE" && country != "US" {
		score += 30
	}
	if score > 99 {
		score = 99
	}
	return score
}

type withResponse interface{ StatusCode() int }

func statusOf(r withResponse, err error) int {
	if err != nil || r == nil {
		return 0
	}
	return r.StatusCode()
}

func status(r *tasquesclient.ClaimTasksResponse) int {
	if r == nil {
		return 0
	}
	return r.StatusCode()
}

func sleep(ctx context.Context, d time.Duration) {
	d += time.Duration(rand.Int63n(int64(d)/2 + 1))
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func getenv(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}
