package production

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jonboulle/clockwork"
)

// ClockConfig is the time-driven work of the line and how often it runs.
type ClockConfig struct {
	// PlanEvery is how often queued cards are planned into print batches of BatchSize cards.
	PlanEvery time.Duration
	BatchSize int
	// SLAEvery is how often orders are checked against their deadlines, with the line making
	// Capacity cards an hour between all its stations (unless the stations have measured their
	// own: StationCapacity), and NextPickup giving the post pickup that takes what is
	// ready at a time (shipping's schedule).
	SLAEvery   time.Duration
	Capacity   float64
	NextPickup func(readyAt time.Time) (time.Time, error)
	// Hours are when the stations make cards, for the SLA sweep; the zero value is around the
	// clock.
	Hours ProductionHours
	// RetentionEvery is how often personal data are erased from orders dispatched more than
	// Retention ago, from orders rejected more than RejectedRetention ago, and from the bus's
	// topic tables (events every consumer group has read, EventRetention after publication; the
	// input and poison topics' messages PoisonRetention after) (see Clock.Retain for what goes).
	// A zero RejectedRetention, EventRetention or PoisonRetention is its default
	// (DefaultRejectedRetention, DefaultEventRetention, DefaultPoisonRetention).
	RetentionEvery    time.Duration
	Retention         time.Duration
	RejectedRetention time.Duration
	EventRetention    time.Duration
	PoisonRetention   time.Duration
	Calendar          *BusinessDays
}

func (c ClockConfig) check() error {
	switch {
	case c.PlanEvery <= 0 || c.SLAEvery <= 0 || c.RetentionEvery <= 0:
		return errors.New("clock: every interval must be positive")
	case c.BatchSize < 1:
		return errors.New("clock: print batch size must be at least 1")
	case c.Capacity <= 0:
		return errors.New("clock: station capacity (cards an hour) must be positive")
	case c.NextPickup == nil || c.Calendar == nil:
		return errors.New("clock: the pickup schedule and the calendar are needed")
	case c.Hours.check() != nil:
		return fmt.Errorf("clock: %w", c.Hours.check())
	case c.Retention <= 0:
		return errors.New("clock: retention must be positive")
	case c.RejectedRetention < 0 || c.EventRetention < 0 || c.PoisonRetention < 0:
		return errors.New("clock: retention of rejected orders, events and poisoned messages must be positive (or zero for the default)")
	}
	return nil
}

func (c ClockConfig) withDefaults() ClockConfig {
	if c.RejectedRetention == 0 {
		c.RejectedRetention = DefaultRejectedRetention
	}
	if c.EventRetention == 0 {
		c.EventRetention = DefaultEventRetention
	}
	if c.PoisonRetention == 0 {
		c.PoisonRetention = DefaultPoisonRetention
	}
	return c
}

// The clock's jobs, by name (in logs and metrics).
const (
	JobPlan      = "plan-print-batches"
	JobSLA       = "sla-sweep"
	JobRetention = "retention"
)

// clockActor signs the audit entries of the clock's jobs.
const clockActor = "clock"

// Clock runs the time-driven work of the line with gocron: planning, the SLA sweep and retention.
// Across instances each run happens once: the scheduler asks an Elector before every run, and only
// the leader runs it. Mail retries need no job here: the temporary-card mailer keeps its own
// back-off schedule in mail_outbox (a temporary failure is due again at next_attempt_at, forever
// polled by its worker), and a job in state failed has failed for good (the relay refused it, or
// its attempts ran out), so re-arming it by the clock would only repeat the refusal; an operator
// resends it (`cardline temporary resend`).
type Clock struct {
	store   *Store
	cfg     ClockConfig
	log     *slog.Logger
	clock   clockwork.Clock
	sched   gocron.Scheduler
	metrics *Metrics

	mu  sync.Mutex
	sla SLAReport
}

// SLAReport is the last SLA sweep's verdicts, for metrics and operators.
type SLAReport struct {
	At     time.Time
	Orders []SLAAssessment
	// Capacity is the cards an hour the sweep assumed, in all and by card type: measured from
	// the stations in service, or the configured figure when none has recent work.
	Capacity Capacity
}

// ClockOption adjusts a Clock.
type ClockOption func(*clockOptions)

type clockOptions struct {
	clock   clockwork.Clock
	elector gocron.Elector
	metrics *Metrics
}

// WithFakeClock drives the clock's schedule and its jobs' "now" from c (tests).
func WithFakeClock(c clockwork.Clock) ClockOption { return func(o *clockOptions) { o.clock = c } }

// WithElector makes the clock's jobs run only on the instance elected leader.
func WithElector(e gocron.Elector) ClockOption { return func(o *clockOptions) { o.elector = e } }

// WithMetrics records the jobs' outcomes and the SLA verdicts in m.
func WithMetrics(m *Metrics) ClockOption { return func(o *clockOptions) { o.metrics = m } }

// NewClock makes the scheduler with its jobs; Start runs it.
func NewClock(store *Store, cfg ClockConfig, log *slog.Logger, opts ...ClockOption) (*Clock, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	o := clockOptions{clock: clockwork.NewRealClock()}
	for _, f := range opts {
		f(&o)
	}
	c := &Clock{store: store, cfg: cfg, log: log, clock: o.clock, metrics: o.metrics}
	sopts := []gocron.SchedulerOption{gocron.WithClock(o.clock), gocron.WithLogger(log.With("component", "gocron")),
		gocron.WithLocation(cfg.Calendar.Zone()), gocron.WithStopTimeout(30 * time.Second)}
	if o.elector != nil {
		sopts = append(sopts, gocron.WithDistributedElector(o.elector))
	}
	sched, err := gocron.NewScheduler(sopts...)
	if err != nil {
		return nil, fmt.Errorf("clock: new scheduler: %w", err)
	}
	c.sched = sched
	for _, j := range []struct {
		name  string
		every time.Duration
		run   func(context.Context) error
	}{
		{JobPlan, cfg.PlanEvery, func(ctx context.Context) error { _, err := c.Plan(ctx); return err }},
		{JobSLA, cfg.SLAEvery, func(ctx context.Context) error { _, err := c.SweepSLA(ctx); return err }},
		{JobRetention, cfg.RetentionEvery, func(ctx context.Context) error { _, err := c.Retain(ctx); return err }},
	} {
		run := j.run
		name := j.name
		if _, err := sched.NewJob(gocron.DurationJob(j.every), gocron.NewTask(func(ctx context.Context) error {
			err := run(ctx)
			if err != nil {
				c.log.Error("clock job failed", "job", name, "err", err)
			}
			c.metrics.jobRan(name, err)
			return err
		}), gocron.WithName(name), gocron.WithSingletonMode(gocron.LimitModeReschedule)); err != nil {
			sched.Shutdown()
			return nil, fmt.Errorf("clock: schedule %s: %w", name, err)
		}
	}
	return c, nil
}

// Start starts the schedule: each job first runs one interval after Start.
func (c *Clock) Start() { c.sched.Start() }

// Shutdown stops the schedule and waits for running jobs.
func (c *Clock) Shutdown() error { return c.sched.Shutdown() }

// Plan plans the queued cards in no batch into print batches (Store.PlanPrintBatches).
func (c *Clock) Plan(ctx context.Context) ([]PrintBatch, error) {
	batches, err := c.store.PlanPrintBatches(ctx, c.cfg.BatchSize, clockActor)
	if err != nil {
		return nil, err
	}
	for _, b := range batches {
		msg := "print batch planned"
		if b.Added < b.Total() {
			msg = "print batch topped up"
		}
		c.log.Info(msg, "batch", b.ID, "card_type", b.CardType, "cards", b.Total(), "added", b.Added, "at_risk", b.AtRisk)
	}
	return batches, nil
}

// SweepSLA checks every order not yet dispatched against its deadline (AssessSLA) at the clock's
// now. An order newly found at risk is flagged (orders.at_risk, for good: it stays first until it
// leaves), its open batches are marked at risk so stations take them first, an alert is logged at
// WARN with the order and its slack, and planning runs at once so its unbatched cards go first.
// The verdicts are kept for metrics (LastSLA).
func (c *Clock) SweepSLA(ctx context.Context) ([]SLAAssessment, error) {
	now := c.clock.Now()
	rows, err := c.store.pool.Query(ctx, `SELECT o.order_id, o.card_type, o.dispatch_by, o.at_risk,
		count(c.card_number) FILTER (WHERE c.state IN ('queued', 'in_production', 'encoded', 'printed', 'spoiled'))
		FROM orders o JOIN cards c USING (order_id)
		WHERE o.state IN ('accepted', 'in_production', 'produced') AND o.dispatch_by IS NOT NULL
		GROUP BY o.order_id`)
	if err != nil {
		return nil, fmt.Errorf("sla sweep: read orders: %w", err)
	}
	work, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (OrderWork, error) {
		var w OrderWork
		err := r.Scan(&w.OrderID, &w.CardType, &w.DispatchBy, &w.AtRisk, &w.Remaining)
		return w, err
	})
	if err != nil {
		return nil, fmt.Errorf("sla sweep: read orders: %w", err)
	}
	stations, err := c.store.StationRates(ctx, now)
	if err != nil {
		return nil, fmt.Errorf("sla sweep: %w", err)
	}
	capacity := StationCapacity(stations, c.cfg.Capacity)
	verdicts, err := AssessSLA(work, now, capacity, c.cfg.Hours, c.cfg.Calendar.Zone(), c.cfg.NextPickup)
	if err != nil {
		return nil, fmt.Errorf("sla sweep: %w", err)
	}
	var flag []string
	for _, v := range verdicts {
		if v.NewlyAtRisk {
			flag = append(flag, v.OrderID)
		}
	}
	if len(flag) > 0 {
		err := pgx.BeginFunc(ctx, c.store.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `UPDATE orders SET at_risk = true, at_risk_at = $2, updated_at = now()
				WHERE order_id = ANY($1) AND NOT at_risk`, flag, now); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `UPDATE print_batches SET at_risk = true, updated_at = now()
				WHERE state <> 'closed' AND NOT at_risk
				AND batch_id IN (SELECT batch_id FROM cards WHERE order_id = ANY($1) AND state = 'queued' AND batch_id IS NOT NULL)`, flag)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("sla sweep: flag %d orders at risk: %w", len(flag), err)
		}
		for _, v := range verdicts {
			if v.NewlyAtRisk && v.Unserved {
				c.log.Warn("order at risk of missing its dispatch deadline: no station in service is loaded with its card type",
					"order", v.OrderID)
			} else if v.NewlyAtRisk {
				c.log.Warn("order at risk of missing its dispatch deadline: moved to the front", "order", v.OrderID,
					"slack", v.Slack.Round(time.Minute).String(), "ready_at", v.ReadyAt, "pickup_at", v.PickupAt)
			}
		}
		if _, err := c.Plan(ctx); err != nil {
			return nil, fmt.Errorf("sla sweep: plan the orders at risk first: %w", err)
		}
	}
	c.mu.Lock()
	c.sla = SLAReport{At: now, Orders: verdicts, Capacity: capacity}
	c.mu.Unlock()
	c.metrics.slaSwept(verdicts, len(flag), capacity)
	return verdicts, nil
}

// LastSLA is the last sweep's verdicts (zero before the first sweep).
func (c *Clock) LastSLA() SLAReport {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sla
}
