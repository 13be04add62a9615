"""The shop's invoice worker, in Python, on a client generated from Tasques' openapi.json with
openapi-python-client (see ../README.md). It claims tasks from the "invoices" queue, renders an
invoice for each order, and marks it done with the invoice, or failed when the order cannot be
invoiced.

Environment: TASQUES_URL (default http://localhost:8080), WORKER_ID (default py-<pid>), TASQUES_TOKEN
(a bearer token with the `worker` role, when the server has auth).
SIGTERM/SIGINT: stop claiming, finish the task at hand, exit 0.
"""

import os
import random
import signal
import sys
import time

import httpx

from tasques_client import Client
from tasques_client.api.tasks import (
    claim_tasks,
    mark_claimed_task_done,
    mark_claimed_task_failed,
    report_on_claimed_task,
    unclaim_existing_task,
)
from tasques_client.models import (
    TaskClaim,
    TaskFailure,
    TaskFailureDataType0,
    TaskNewReport,
    TaskNewReportDataType0,
    TaskSuccess,
    TaskSuccessDataType0,
    TaskTask,
)

QUEUE = "invoices"
stopping = False


def on_signal(signum, _frame):
    global stopping
    stopping = True


def render_invoice(order: dict) -> dict:
    """Totals an order: items are {sku, qty, price_cents}; tax_rate is e.g. 0.2."""
    items = order.get("items") or []
    if not items:
        raise ValueError(f"order {order.get('order_id')} has no items")
    lines = [
        {"sku": item["sku"], "qty": item["qty"], "amount_cents": item["qty"] * item["price_cents"]}
        for item in items
    ]
    net = sum(line["amount_cents"] for line in lines)
    tax = round(net * float(order.get("tax_rate", 0)))
    return {
        "invoice_number": f"INV-{order['order_id']}",
        "lines": lines,
        "net_cents": net,
        "tax_cents": tax,
        "total_cents": net + tax,
        "by": "python",
    }


def record(client: Client, worker_id: str, task: TaskTask, ok: bool, data: dict) -> None:
    """Marks the task done or failed, repeating on transient errors; a 4xx means the claim is gone."""
    for attempt in range(6):
        try:
            if ok:
                resp = mark_claimed_task_done.sync_detailed(
                    task.queue, task.id, client=client, x_tasques_worker_id=worker_id,
                    body=TaskSuccess(data=TaskSuccessDataType0.from_dict(data)))
            else:
                resp = mark_claimed_task_failed.sync_detailed(
                    task.queue, task.id, client=client, x_tasques_worker_id=worker_id,
                    body=TaskFailure(data=TaskFailureDataType0.from_dict(data)))
            status = resp.status_code
        except httpx.HTTPError as e:
            print(f"recording {task.id} failed: {e}", file=sys.stderr)
            status = 0
        if status == 200:
            print(f"{'done' if ok else 'failed'} {task.queue}/{task.id}", flush=True)
            return
        if status in (400, 403, 404):
            print(f"lost the claim on {task.queue}/{task.id} ({status})", file=sys.stderr)
            return
        time.sleep(0.1 * (attempt + 1))
    print(f"giving up on recording {task.id}; it will time out and run again", file=sys.stderr)


def handle(client: Client, worker_id: str, task: TaskTask) -> None:
    report_on_claimed_task.sync_detailed(
        task.queue, task.id, client=client, x_tasques_worker_id=worker_id,
        body=TaskNewReport(data=TaskNewReportDataType0.from_dict({"stage": "rendering", "by": "python"})))
    order = task.args.to_dict() if task.args else {}
    try:
        invoice = render_invoice(order)
    except Exception as e:  # a bad order: fail it, the server retries or buries it
        record(client, worker_id, task, False, {"error": str(e), "name": type(e).__name__, "by": "python"})
        return
    record(client, worker_id, task, True, invoice)


def main() -> None:
    url = os.environ.get("TASQUES_URL", "http://localhost:8080")
    worker_id = os.environ.get("WORKER_ID", f"py-{os.getpid()}")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # The timeout must exceed block_for: a claim waits that long when there is nothing to do.
    token = os.environ.get("TASQUES_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    client = Client(base_url=url, headers=headers, timeout=httpx.Timeout(15.0))
    print(f"invoice worker {worker_id} polling {url}", file=sys.stderr, flush=True)
    backoff = 0.1
    while not stopping:
        try:
            resp = claim_tasks.sync_detailed(
                client=client, x_tasques_worker_id=worker_id,
                body=TaskClaim(queues=[QUEUE], amount=4, block_for="2s"))
            tasks = resp.parsed if resp.status_code == 200 else None
        except httpx.HTTPError as e:
            print(f"claim failed: {e}", file=sys.stderr)
            tasks = None
        if tasks is None:
            # Server down or overloaded: back off and try again; never give up.
            time.sleep(backoff * (1 + random.random() / 2))
            backoff = min(backoff * 2, 5.0)
            continue
        backoff = 0.1
        for task in tasks:
            if stopping:  # give the rest back without counting the attempt
                unclaim_existing_task.sync_detailed(task.queue, task.id, client=client, x_tasques_worker_id=worker_id)
                print(f"unclaimed {task.queue}/{task.id}", flush=True)
                continue
            handle(client, worker_id, task)
    print(f"invoice worker {worker_id} stopped", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
