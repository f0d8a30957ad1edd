package production

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"cardline/internal/testsupport"
)

// The crash test runs the intake consumer in a child process (this test binary again, selected by
// the environment) that exits abruptly after handling a given number of messages: in the middle of
// a subscriber batch, with that batch's effects written but not committed.
const (
	envWorkerDB    = "CARDLINE_TEST_INTAKE_WORKER_DB"
	envWorkerCrash = "CARDLINE_TEST_INTAKE_WORKER_CRASH_AFTER"
	crashExitCode  = 42
)

func TestIntakeWorkerProcess(t *testing.T) {
	url := os.Getenv(envWorkerDB)
	if url == "" {
		t.Skip("runs only as the child of TestIntakeSurvivesCrashes")
	}
	crashAfter, _ := strconv.Atoi(os.Getenv(envWorkerCrash))
	l := openLine(t, url)
	var handled atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := l.runIntake(ctx, t, func(h message.NoPublishHandlerFunc) message.NoPublishHandlerFunc {
		return func(m *message.Message) error {
			err := h(m)
			if crashAfter > 0 && handled.Add(1) == int64(crashAfter) {
				os.Exit(crashExitCode) // mid-batch: this message's effects are in an open transaction
			}
			return err
		}
	})
	l.waitDrained(t)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestIntakeSurvivesCrashes(t *testing.T) {
	url := testsupport.Postgres(t)
	l := openLine(t, url)
	const orders = 160
	s := NewSamples(99)
	payloads := make([][]byte, orders)
	ids := map[string]bool{}
	for i := range payloads {
		m := s.Order(1, time.Now().Add(-time.Hour))
		m.OrderID = "C-" + strconv.Itoa(100000+i)
		ids[m.OrderID] = true
		payloads[i] = marshal(t, m)
	}
	l.submit(t, payloads...)

	// Two crashes at different points of a batch, then a run to the end.
	for _, crashAfter := range []int{37, 81, 0} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestIntakeWorkerProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), envWorkerDB+"="+url, envWorkerCrash+"="+strconv.Itoa(crashAfter))
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		switch {
		case crashAfter > 0 && errors.As(err, &exit) && exit.ExitCode() == crashExitCode:
		case crashAfter == 0 && err == nil:
		default:
			t.Fatalf("worker (crash after %d): %v\n%s", crashAfter, err, out)
		}
		t.Logf("worker crashing after %d: %d orders stored", crashAfter, l.count(t, `SELECT count(*) FROM orders`))
	}

	if n := l.count(t, `SELECT count(*) FROM orders WHERE state = 'accepted'`); n != orders {
		t.Errorf("%d accepted orders, want %d", n, orders)
	}
	if n := l.count(t, `SELECT count(*) FROM cards`); n != orders {
		t.Errorf("%d cards, want %d", n, orders)
	}
	if n := l.count(t, `SELECT count(DISTINCT card_number) FROM cards`); n != orders {
		t.Errorf("%d distinct card numbers, want %d", n, orders)
	}
	accepted := l.events(t, TopicOrdersAccepted)
	seen := map[string]int{}
	for _, e := range accepted {
		seen[e["order_id"].(string)]++
	}
	for id := range ids {
		if seen[id] != 1 {
			t.Errorf("order %s: %d OrderAccepted events, want exactly 1", id, seen[id])
		}
	}
	if len(accepted) != orders || len(l.events(t, TopicCardsQueued)) != orders {
		t.Errorf("%d OrderAccepted and %d CardQueued events, want %d each", len(accepted), len(l.events(t, TopicCardsQueued)), orders)
	}
	if n := l.count(t, `SELECT count(*) FROM audit_log WHERE entity = 'order'`); n != orders {
		t.Errorf("%d order audit entries, want %d", n, orders)
	}
}
