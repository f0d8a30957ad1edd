package production

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// eventually polls cond until it holds or 20 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after 20 s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The clock's jobs on a fake clock against a real database: nothing runs before its interval;
// planning batches the queued cards; the SLA sweep flags the order that cannot make today's pickup
// and puts its batch first; retention erases an order dispatched longer ago than the retention and
// leaves a recent one.
func TestClockJobs(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	cal, err := NewBusinessDays()
	if err != nil {
		t.Fatal(err)
	}
	z := cal.Zone()
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, z) // Monday 09:00
	fake := clockwork.NewFakeClockAt(now)
	today := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	// At 2 cards an hour, the big order due tomorrow is ready (behind the small one due today) at
	// 09:15 + 62/2 h = Tuesday 16:15, after the cut-off: Wednesday's pickup is 15 h late. The small
	// order is planned first until the sweep moves the big one up.
	big := seedOrder(t, s, "A-2026-0000001", Construction, today.AddDate(0, 0, 1), 60)
	small := seedOrder(t, s, "A-2026-0000002", Construction, today, 2)
	old := seedOrder(t, s, "A-2026-0000003", Cleaning, today.AddDate(0, 0, -40), 2)
	recent := seedOrder(t, s, "A-2026-0000004", Cleaning, today.AddDate(0, 0, -3), 1)
	dispatch := func(order string, at time.Time, cards []CardNumber) {
		t.Helper()
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			for _, n := range cards {
				for _, to := range []CardState{CardInProduction, CardEncoded, CardPrinted, CardProduced, CardDispatched} {
					if _, err := TransitionCard(ctx, tx, n, to, "test", ""); err != nil {
						return err
					}
				}
			}
			for _, to := range []OrderState{OrderInProduction, OrderProduced, OrderDispatched} {
				if err := TransitionOrder(ctx, tx, order, to, "test", ""); err != nil {
					return err
				}
			}
			batch := "B-" + order
			if _, err := tx.Exec(ctx, `INSERT INTO shipping_batches (batch_id, pickup_at, cut_off_at, state, dispatched_at)
				VALUES ($1, $2, $2, 'dispatched', $2)`, batch, at); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO order_dispatch (order_id, batch_id, dispatched_at, dispatched_by, dispatch_by, met_deadline, complete)
				VALUES ($1, $2, $3, 'test', $4, true, true)`, order, batch, at, at.Format(time.DateOnly)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO mail_outbox (order_id, kind, message_id, recipient, state, requested_by)
				VALUES ($1, 'accepted', $1, 'kari@bygg.example', 'sent', 'test')`, order)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	dispatch("A-2026-0000003", now.AddDate(0, 0, -31), old)
	dispatch("A-2026-0000004", now.AddDate(0, 0, -2), recent)

	m := NewMetrics(s)
	var logs lockedBuffer
	c, err := NewClock(s, ClockConfig{PlanEvery: 10 * time.Minute, BatchSize: 60, SLAEvery: 15 * time.Minute, Capacity: 2,
		NextPickup: testPickup(cal), RetentionEvery: time.Hour, Retention: 30 * 24 * time.Hour, Calendar: cal},
		slog.New(slog.NewJSONHandler(&logs, nil)), WithFakeClock(fake), WithMetrics(m))
	if err != nil {
		t.Fatal(err)
	}
	c.Start()
	defer c.Shutdown()
	bctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := fake.BlockUntilContext(bctx, 3); err != nil {
		t.Fatalf("the three jobs did not wait on the clock: %v", err)
	}
	if n := s.count(t, "SELECT count(*) FROM print_batches"); n != 0 {
		t.Fatalf("%d batches before the planning interval", n)
	}

	fake.Advance(10 * time.Minute)
	eventually(t, "planning after 10 min", func() bool { return s.count(t, "SELECT count(*) FROM cards WHERE batch_id IS NOT NULL") == 62 })
	var first CardNumber
	if err := s.pool.QueryRow(ctx, `SELECT card_number FROM cards WHERE batch_id IS NOT NULL ORDER BY batch_id, batch_position LIMIT 1`).Scan(&first); err != nil {
		t.Fatal(err)
	}
	if first != small[0] {
		t.Fatalf("before the sweep the order due first leads (%s), got %s", small[0], first)
	}

	fake.Advance(5 * time.Minute) // 09:15: the sweep
	eventually(t, "the SLA sweep flags the big order", func() bool {
		return s.count(t, "SELECT count(*) FROM orders WHERE at_risk") == 1 && c.LastSLA().At.Equal(now.Add(15*time.Minute))
	})
	if s.count(t, "SELECT count(*) FROM orders WHERE at_risk AND order_id = 'A-2026-0000001' AND at_risk_at = $1", now.Add(15*time.Minute)) != 1 {
		t.Error("the wrong order is at risk, or its time is not the clock's")
	}
	batches, err := s.ListBatches(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(batches) == 0 || !batches[0].AtRisk || batches[0].ID != batchOf(t, s, big[0]) {
		t.Errorf("the big order's batch is not first and at risk: %+v", batches)
	}
	if !logs.contains(`"level":"WARN","msg":"order at risk of missing its dispatch deadline: moved to the front","order":"A-2026-0000001","slack":"-15h0m0s"`) {
		t.Errorf("no WARN alert with order and slack in the log:\n%s", logs.String())
	}
	if got := value(t, m.slaAlerts); got != 1 {
		t.Errorf("sla alerts counter %v, want 1", got)
	}
	if got := value(t, m.minSlack); got != -15*3600 {
		t.Errorf("least slack %v s, want -54000", got)
	}

	// The next sweep finds it flagged already: no second alert.
	fake.Advance(15 * time.Minute) // 09:30
	eventually(t, "a second sweep", func() bool { return c.LastSLA().At.Equal(now.Add(30 * time.Minute)) })
	if got := value(t, m.slaAlerts); got != 1 {
		t.Errorf("sla alerts counter %v after a second sweep, want 1", got)
	}

	fake.Advance(30 * time.Minute) // 10:00: retention
	eventually(t, "retention", func() bool {
		return s.count(t, "SELECT count(*) FROM orders WHERE personal_data_erased_at IS NOT NULL") == 1
	})
	if n := s.count(t, "SELECT count(*) FROM card_photos WHERE card_number = ANY($1)", []string{string(old[0]), string(old[1])}); n != 0 {
		t.Errorf("%d photos of the old order left", n)
	}
	if n := s.count(t, `SELECT count(*) FROM cards WHERE order_id = 'A-2026-0000003' AND given_name = '' AND family_name = ''
		AND gender = '' AND birth_date IS NULL AND org_number = '923609016' AND card_type = 'cleaning' AND state = 'dispatched'`); n != 2 {
		t.Errorf("%d of 2 old cards erased with their record kept", n)
	}
	if n := s.count(t, `SELECT count(*) FROM orders WHERE order_id = 'A-2026-0000003' AND orderer_name IS NULL AND orderer_email IS NULL
		AND delivery_address->>'attention' IS NULL AND delivery_address->>'street' = 'Storgata 1' AND company_name = 'Bygg og Rør AS'`); n != 1 {
		t.Error("the old order's orderer or attention line is still there, or its company address went")
	}
	if n := s.count(t, `SELECT count(*) FROM mail_outbox WHERE order_id = 'A-2026-0000003' AND recipient = ''`); n != 1 {
		t.Error("the old order's mail recipient is still there")
	}
	if n := s.count(t, `SELECT count(*) FROM audit_log WHERE entity_id = ANY($1)`, []string{string(old[0]), string(old[1])}); n != 10 {
		t.Errorf("%d audit entries of the old cards, want all 10 kept", n)
	}
	if c, _, err := s.Card(ctx, old[0]); err != nil || c.Holder.FullName() != " " || !c.Holder.BirthDate.IsZero() || len(c.Photo.JPEG) != 0 {
		t.Errorf("an erased card as the store loads it: %+v, %v", c, err)
	}
	if n := s.count(t, `SELECT count(*) FROM card_photos WHERE card_number = $1`, string(recent[0])); n != 1 {
		t.Error("the recent order's photo went")
	}
	// The run is counted once the whole job has returned, after the erasure seen above commits
	// (bus retention follows it): wait for the count, then check it ran once.
	eventually(t, "retention counted", func() bool { return value(t, m.jobRuns.WithLabelValues(JobRetention, "ok")) >= 1 })
	if got := value(t, m.jobRuns.WithLabelValues(JobRetention, "ok")); got != 1 {
		t.Errorf("retention ran %v times, want 1", got)
	}
}

func batchOf(t *testing.T, s *Store, n CardNumber) int64 {
	t.Helper()
	var id int64
	if err := s.pool.QueryRow(context.Background(), "SELECT batch_id FROM cards WHERE card_number = $1", string(n)).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// countingElector counts how often the scheduler asked.
type countingElector struct {
	e     *Elector
	asked atomic.Int64
}

func (c *countingElector) IsLeader(ctx context.Context) error {
	defer c.asked.Add(1)
	return c.e.IsLeader(ctx)
}

// Two instances on one database: only the holder of the lock runs the job; when its connection
// dies, the other takes over, and the old leader, back, finds the lock taken.
func TestElectorTwoInstances(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	cfg := s.pool.Config().ConnConfig
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	type instance struct {
		clock *clockwork.FakeClock
		elect *countingElector
		runs  atomic.Int64
	}
	start := func() *instance {
		in := &instance{clock: clockwork.NewFakeClock(), elect: &countingElector{e: NewElector(cfg, ClockLock, quiet)}}
		t.Cleanup(func() { in.elect.e.Close(ctx) })
		sched, err := gocron.NewScheduler(gocron.WithClock(in.clock), gocron.WithDistributedElector(in.elect))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sched.NewJob(gocron.DurationJob(time.Minute), gocron.NewTask(func() { in.runs.Add(1) })); err != nil {
			t.Fatal(err)
		}
		sched.Start()
		t.Cleanup(func() { sched.Shutdown() })
		bctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := in.clock.BlockUntilContext(bctx, 1); err != nil {
			t.Fatal(err)
		}
		return in
	}
	// tick moves an instance's clock by the job's interval and waits until its scheduler has asked
	// the elector and, if it was told to lead, run the job: it then has run want times in all.
	tick := func(in *instance, want int64) {
		t.Helper()
		asked := in.elect.asked.Load()
		in.clock.Advance(time.Minute)
		eventually(t, "the scheduler asks the elector", func() bool { return in.elect.asked.Load() > asked })
		eventually(t, fmt.Sprintf("%d runs", want), func() bool { return in.runs.Load() >= want })
		if got := in.runs.Load(); got != want {
			t.Fatalf("%d runs, want %d", got, want)
		}
	}
	a, b := start(), start()
	tick(a, 1) // a asks first: a leads
	tick(b, 0)
	tick(b, 0)
	tick(a, 2)
	if err := b.elect.e.IsLeader(ctx); !errors.Is(err, ErrNotLeader) {
		t.Errorf("b.IsLeader: %v, want ErrNotLeader", err)
	}
	if !a.elect.e.Leading() || b.elect.e.Leading() {
		t.Error("Leading: want a only")
	}

	// The leader's connection dies (as when its instance is cut off): the lock goes with it.
	var killed bool
	if err := s.pool.QueryRow(ctx, `SELECT pg_terminate_backend(pid) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&killed); err != nil || !killed {
		t.Fatalf("terminate the leader's connection: %v, %v", killed, err)
	}
	eventually(t, "the lock is released", func() bool {
		return s.count(t, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`) == 0
	})
	tick(b, 1) // b asks first now: b takes over
	tick(a, 2) // a, reconnected, finds the lock taken
	if a.elect.e.Leading() || !b.elect.e.Leading() {
		t.Error("Leading after the takeover: want b only")
	}
}

// lockedBuffer collects log lines from several goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *lockedBuffer) contains(s string) bool { return strings.Contains(l.String(), s) }

// value reads a counter's or gauge's value.
func value(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	ch := make(chan prometheus.Metric, 1)
	c.Collect(ch)
	var d dto.Metric
	if err := (<-ch).Write(&d); err != nil {
		t.Fatal(err)
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}
