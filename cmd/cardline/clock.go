package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"cardline/production"
	"cardline/shipping"
)

// Configuration of the clock and the HTTP listener (flags fall back to these environment variables).
const (
	envPlanEvery       = "CARDLINE_PLAN_EVERY"         // how often queued cards are planned into batches
	envSLAEvery        = "CARDLINE_SLA_EVERY"          // how often orders are checked against their deadlines
	envStationCapacity = "CARDLINE_STATION_CAPACITY"   // cards an hour, all stations together
	envRetention       = "CARDLINE_RETENTION"          // how long personal data stay after dispatch
	envRejectedRet     = "CARDLINE_REJECTED_RETENTION" // how long a rejected order's personal data stay
	envEventRet        = "CARDLINE_EVENT_RETENTION"    // how long events every consumer has read stay
	envPoisonRet       = "CARDLINE_POISON_RETENTION"   // how long poisoned (and handled input) messages stay
	envHTTPAddr        = "CARDLINE_HTTP_ADDR"          // /metrics and /healthz
	envProductionHours = "CARDLINE_PRODUCTION_HOURS"   // when the stations make cards, for the SLA sweep
)

// clockConfig is serve's time-driven work and its HTTP listener.
type clockConfig struct {
	batchSize      *int
	planEvery      time.Duration
	slaEvery       time.Duration
	retentionEvery time.Duration
	capacity       float64
	retention      string
	rejectedRet    string
	eventRet       string
	poisonRet      string
	pickup, cutOff string
	hours          string
	httpAddr       string
	// envErrs are the environment's bad values, each naming its variable (startClock returns them).
	envErrs []error
}

func (c *clockConfig) flags(fs *flag.FlagSet) {
	c.batchSize = batchSizeFlag(fs, &c.envErrs)
	fs.DurationVar(&c.planEvery, "plan-every", c.envDuration(envPlanEvery, 5*time.Minute), "plan queued cards into print batches this often (env "+envPlanEvery+")")
	fs.DurationVar(&c.slaEvery, "sla-every", c.envDuration(envSLAEvery, 5*time.Minute), "check orders against their deadlines this often (env "+envSLAEvery+")")
	fs.DurationVar(&c.retentionEvery, "retention-every", time.Hour, "look for personal data past retention this often")
	capacity := 60.0
	if raw := envOr(envStationCapacity, ""); raw != "" {
		v, err := strconv.ParseFloat(raw, 64)
		if err != nil || !(v > 0) {
			c.envErrs = append(c.envErrs, fmt.Errorf("%s=%q: want cards an hour, a number above 0", envStationCapacity, raw))
		}
		capacity = v
	}
	fs.Float64Var(&c.capacity, "station-capacity", capacity, "cards an hour that all stations make together, for the SLA sweep (env "+envStationCapacity+")")
	fs.StringVar(&c.retention, "retention", envOr(envRetention, "90d"), "erase photos and personal data this long after dispatch: a duration, or days as 90d (env "+envRetention+")")
	fs.StringVar(&c.rejectedRet, "rejected-retention", envOr(envRejectedRet, days(production.DefaultRejectedRetention)),
		"erase a rejected order's orderer and problem wording this long after rejection (env "+envRejectedRet+")")
	fs.StringVar(&c.eventRet, "event-retention", envOr(envEventRet, days(production.DefaultEventRetention)),
		"delete events every consumer group has read this long after publication (env "+envEventRet+")")
	fs.StringVar(&c.poisonRet, "poison-retention", envOr(envPoisonRet, days(production.DefaultPoisonRetention)),
		"delete poisoned messages, never replayed, this long after they failed; also the input topic's handled messages (env "+envPoisonRet+")")
	fs.StringVar(&c.pickup, "pickup", envOr(envPickup, "15:00"), "local time (Oslo) the post collects on business days (env "+envPickup+")")
	fs.StringVar(&c.cutOff, "cut-off", envOr(envCutOff, "14:00"), "what is ready before this local time goes with that day's pickup (env "+envCutOff+")")
	fs.StringVar(&c.hours, "production-hours", envOr(envProductionHours, "always"),
		"when the stations make cards, for the SLA sweep: HH:MM-HH:MM on business days (Oslo), or always (env "+envProductionHours+")")
	httpAddr, set := os.LookupEnv(envHTTPAddr) // set and empty: no listener, as the flag's ""
	if !set {
		httpAddr = "127.0.0.1:8080"
	}
	fs.StringVar(&c.httpAddr, "http-addr", strings.TrimSpace(httpAddr), "listen here for /metrics and /healthz; empty for none (env "+envHTTPAddr+")")
}

// envDuration is the environment variable key as a duration, or def when it is unset; a bad
// value is noted in c.envErrs, naming the variable.
func (c *clockConfig) envDuration(key string, def time.Duration) time.Duration {
	raw := envOr(key, "")
	if raw == "" {
		return def
	}
	d, err := time.ParseDuration(raw)
	if err != nil || d <= 0 {
		c.envErrs = append(c.envErrs, fmt.Errorf("%s=%q: want a positive duration such as 5m", key, raw))
	}
	return d
}

// days writes d as whole days ("30d") when it is, for the flags' defaults.
func days(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	}
	return d.String()
}

// parseRetention reads a Go duration or a number of days ("90d").
func parseRetention(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 1 {
			return 0, fmt.Errorf("retention %q: want a number of days such as 90d, or a duration", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("retention %q: want a number of days such as 90d, or a duration", s)
	}
	return d, nil
}

// startClock starts the clock's jobs (run on whichever instance holds the election lock) and the
// HTTP listener. stop ends both.
func (s *service) startClock(ctx context.Context, c clockConfig) (stop func(), err error) {
	if err := checkBatchSize(*c.batchSize, c.envErrs); err != nil {
		return nil, err
	}
	cal, err := production.NewBusinessDays()
	if err != nil {
		return nil, err
	}
	retention, err := parseRetention(c.retention)
	if err != nil {
		return nil, err
	}
	var rejectedRet, eventRet, poisonRet time.Duration
	for _, r := range []struct {
		flag, value string
		into        *time.Duration
	}{{"--rejected-retention", c.rejectedRet, &rejectedRet}, {"--event-retention", c.eventRet, &eventRet}, {"--poison-retention", c.poisonRet, &poisonRet}} {
		if *r.into, err = parseRetention(r.value); err != nil {
			return nil, fmt.Errorf("%s: %w", r.flag, err)
		}
	}
	pickup, err := clockTime(c.pickup)
	if err != nil {
		return nil, fmt.Errorf("--pickup: %w", err)
	}
	cutOff, err := clockTime(c.cutOff)
	if err != nil {
		return nil, fmt.Errorf("--cut-off: %w", err)
	}
	hours, err := production.ParseProductionHours(c.hours, cal)
	if err != nil {
		return nil, fmt.Errorf("--production-hours: %w", err)
	}
	sched := shipping.Schedule{Zone: cal.Zone(), PickupAt: pickup, CutOff: cutOff, IsBusinessDay: cal.IsBusinessDay}
	metrics := production.NewMetrics(s.store)
	s.metrics = metrics // for the station workers
	elector := production.NewElector(s.pool.Config().ConnConfig, production.ClockLock, s.log)
	clock, err := production.NewClock(s.store, production.ClockConfig{
		PlanEvery: c.planEvery, BatchSize: *c.batchSize, SLAEvery: c.slaEvery, Capacity: c.capacity,
		NextPickup: func(ready time.Time) (time.Time, error) {
			p, _, err := sched.NextPickup(ready)
			return p, err
		},
		Hours:          hours,
		RetentionEvery: c.retentionEvery, Retention: retention, Calendar: cal,
		RejectedRetention: rejectedRet, EventRetention: eventRet, PoisonRetention: poisonRet,
	}, s.log, production.WithElector(elector), production.WithMetrics(metrics))
	if err != nil {
		return nil, err
	}
	var srv *http.Server
	if c.httpAddr != "" {
		ln, err := net.Listen("tcp", c.httpAddr)
		if err != nil {
			clock.Shutdown()
			return nil, fmt.Errorf("--http-addr: %w", err)
		}
		srv = &http.Server{Handler: s.httpHandler(metrics, elector), ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("http listener stopped", "err", err)
			}
		}()
		s.log.Info("serving /metrics and /healthz", "addr", ln.Addr().String())
	}
	clock.Start()
	s.log.Info("clock started", "plan_every", c.planEvery, "sla_every", c.slaEvery, "print_batch_size", *c.batchSize,
		"station_capacity", c.capacity, "production_hours", hours.String(), "retention", retention, "rejected_retention", rejectedRet,
		"event_retention", eventRet, "poison_retention", poisonRet)
	return func() {
		if srv != nil {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			srv.Shutdown(sctx)
			cancel()
		}
		if err := clock.Shutdown(); err != nil {
			s.log.Warn("clock shutdown", "err", err)
		}
		elector.Close(context.WithoutCancel(ctx))
	}, nil
}

// httpHandler serves the metrics and a health check: 200 while the database answers, 503 when not.
func (s *service) httpHandler(m *production.Metrics, e *production.Elector) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.pool.Ping(ctx); err != nil {
			http.Error(w, "database: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		role := "follower"
		if e.Leading() {
			role = "leader"
		}
		fmt.Fprintf(w, "ok\nclock: %s\n", role)
	})
	return mux
}
