package production

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the line's Prometheus metrics, on a registry of their own (served on /metrics by
// `cardline serve`). What the database knows (cards by state, batches by state, queue age) is read
// at scrape time; what happens in the process (clock jobs, SLA verdicts, stations) is counted as it
// happens. A nil *Metrics records nothing, so code that records need not check.
type Metrics struct {
	Registry *prometheus.Registry

	jobRuns        *prometheus.CounterVec
	slaAlerts      prometheus.Counter
	ordersAtRisk   prometheus.Gauge
	minSlack       prometheus.Gauge
	slaCapacity    *prometheus.GaugeVec
	slack          prometheus.Histogram
	stationCards   *prometheus.CounterVec
	stationFaults  *prometheus.CounterVec
	stationSeconds *prometheus.HistogramVec
	erasedOrders   *prometheus.CounterVec
	deletedMsgs    *prometheus.CounterVec
	heldMsgs       *prometheus.GaugeVec
}

// NewMetrics registers the line's metrics (and the Go runtime's) on a new registry; store, if not
// nil, is read at each scrape for cards, batches and queue age.
func NewMetrics(store *Store) *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		jobRuns: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cardline_clock_job_runs_total",
			Help: "Runs of the clock's jobs on this instance, by job and outcome (ok, error)."}, []string{"job", "outcome"}),
		slaAlerts: prometheus.NewCounter(prometheus.CounterOpts{Name: "cardline_sla_alerts_total",
			Help: "Orders the SLA sweep newly found unable to meet their dispatch deadline on current capacity."}),
		ordersAtRisk: prometheus.NewGauge(prometheus.GaugeOpts{Name: "cardline_sla_orders_at_risk",
			Help: "Orders not yet dispatched that the last SLA sweep found at risk."}),
		slaCapacity: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "cardline_sla_capacity_cards_per_hour",
			Help: "Cards an hour the last SLA sweep assumed the stations make, in all (card_type all) and of each card type they are loaded with: source measured (stations in service, last hour) or configured."},
			[]string{"source", "card_type"}),
		minSlack: prometheus.NewGauge(prometheus.GaugeOpts{Name: "cardline_sla_min_slack_seconds",
			Help: "The least slack (end of dispatch day minus planned pickup) of any order at the last sweep; negative is late."}),
		slack: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "cardline_sla_slack_hours",
			Help:    "Deadline slack of the orders not yet dispatched, at each SLA sweep, in hours.",
			Buckets: []float64{-24, 0, 12, 24, 48, 72, 96, 120}}),
		stationCards: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cardline_station_cards_total",
			Help: "Cards a station finished, by station and outcome (produced, spoiled)."}, []string{"station", "outcome"}),
		stationFaults: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cardline_station_faults_total",
			Help: "Station faults, by station and kind (jam, encode, verify, print, …)."}, []string{"station", "kind"}),
		stationSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "cardline_station_card_seconds",
			Help: "Time a station took for one card, from claim to the output or reject tray.", Buckets: prometheus.ExponentialBuckets(0.5, 2, 8)},
			[]string{"station"}),
		erasedOrders: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cardline_retention_orders_erased_total",
			Help: "Orders whose personal data retention erased on this instance, by kind: dispatched (with the orders whose cards were blocked before they left), rejected."}, []string{"state"}),
		deletedMsgs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cardline_retention_messages_deleted_total",
			Help: "Messages retention deleted from the bus's topic tables on this instance, by topic (the poison topic's were never replayed)."},
			[]string{"topic"}),
		heldMsgs: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "cardline_retention_messages_held",
			Help: "Messages past their retention that the last retention run kept because a consumer group has not read them, by topic and group."},
			[]string{"topic", "group"}),
	}
	m.Registry.MustRegister(m.slaCapacity, m.jobRuns, m.slaAlerts, m.ordersAtRisk, m.minSlack, m.slack, m.stationCards, m.stationFaults,
		m.stationSeconds, m.erasedOrders, m.deletedMsgs, m.heldMsgs, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if store != nil {
		m.Registry.MustRegister(newStoreCollector(store))
	}
	return m
}

// StationCard records a card a station finished: outcome is "produced" or "spoiled", took is the
// time from claim to tray. For the station worker.
func (m *Metrics) StationCard(station, outcome string, took time.Duration) {
	if m == nil {
		return
	}
	m.stationCards.WithLabelValues(station, outcome).Inc()
	m.stationSeconds.WithLabelValues(station).Observe(took.Seconds())
}

// StationFault records a fault at a station (kind: jam, encode, verify, print, no-blank, …).
func (m *Metrics) StationFault(station, kind string) {
	if m == nil {
		return
	}
	m.stationFaults.WithLabelValues(station, kind).Inc()
}

func (m *Metrics) jobRan(job string, err error) {
	if m == nil {
		return
	}
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.jobRuns.WithLabelValues(job, outcome).Inc()
}

func (m *Metrics) retained(r *RetentionResult) {
	if m == nil {
		return
	}
	m.erasedOrders.WithLabelValues(string(OrderDispatched)).Add(float64(len(r.Orders)))
	m.erasedOrders.WithLabelValues(string(OrderRejected)).Add(float64(len(r.Rejected)))
	for topic, n := range r.Messages {
		m.deletedMsgs.WithLabelValues(topic).Add(float64(n))
	}
	m.heldMsgs.Reset() // a group that caught up or went away holds nothing any more
	for topic, groups := range r.Held {
		for group, n := range groups {
			m.heldMsgs.WithLabelValues(topic, group).Set(float64(n))
		}
	}
}

func (m *Metrics) slaSwept(verdicts []SLAAssessment, newAlerts int, capacity Capacity) {
	if m == nil {
		return
	}
	m.slaCapacity.Reset()
	source := "configured"
	if capacity.Measured {
		source = "measured"
	}
	m.slaCapacity.WithLabelValues(source, "all").Set(capacity.Total)
	for t, c := range capacity.PerType {
		m.slaCapacity.WithLabelValues(source, string(t)).Set(c)
	}
	m.slaAlerts.Add(float64(newAlerts))
	atRisk := 0
	for i, v := range verdicts {
		if v.AtRisk {
			atRisk++
		}
		if i == 0 || v.Slack.Seconds() < minSlackOf(verdicts[:i]) {
			m.minSlack.Set(v.Slack.Seconds())
		}
		m.slack.Observe(v.Slack.Hours())
	}
	if len(verdicts) == 0 {
		m.minSlack.Set(0)
	}
	m.ordersAtRisk.Set(float64(atRisk))
}

func minSlackOf(vs []SLAAssessment) float64 {
	least := vs[0].Slack.Seconds()
	for _, v := range vs[1:] {
		least = min(least, v.Slack.Seconds())
	}
	return least
}

// storeCollector reads the line's state from the database at each scrape.
type storeCollector struct {
	store                          *Store
	cards, batches, oldest, queued *prometheus.Desc
	up                             *prometheus.Desc
}

func newStoreCollector(store *Store) *storeCollector {
	return &storeCollector{
		store:   store,
		cards:   prometheus.NewDesc("cardline_cards", "Cards by state.", []string{"state"}, nil),
		batches: prometheus.NewDesc("cardline_print_batches", "Print batches by state.", []string{"state"}, nil),
		oldest: prometheus.NewDesc("cardline_queue_oldest_seconds",
			"Age of the oldest queued card (since it was last queued), by card type.", []string{"card_type"}, nil),
		queued: prometheus.NewDesc("cardline_queue_cards", "Queued cards by card type and whether they are in a batch yet.",
			[]string{"card_type", "batched"}, nil),
		up: prometheus.NewDesc("cardline_database_up", "Whether the last scrape could read the database.", nil, nil),
	}
}

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.cards, c.batches, c.oldest, c.queued, c.up} {
		ch <- d
	}
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	up := 1.0
	if err := c.collect(ctx, ch); err != nil {
		up = 0
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up)
}

func (c *storeCollector) collect(ctx context.Context, ch chan<- prometheus.Metric) error {
	type row struct {
		desc   *prometheus.Desc
		query  string
		labels int
	}
	for _, r := range []row{
		{c.cards, "SELECT state, count(*)::float8 FROM cards GROUP BY state", 1},
		{c.batches, "SELECT state, count(*)::float8 FROM print_batches GROUP BY state", 1},
		{c.oldest, "SELECT card_type, extract(epoch FROM now() - min(updated_at))::float8 FROM cards WHERE state = 'queued' GROUP BY card_type", 1},
		{c.queued, "SELECT card_type, (batch_id IS NOT NULL)::text, count(*)::float8 FROM cards WHERE state = 'queued' GROUP BY 1, 2", 2},
	} {
		rows, err := c.store.pool.Query(ctx, r.query)
		if err != nil {
			return err
		}
		for rows.Next() {
			labels := make([]string, r.labels)
			dest := make([]any, 0, r.labels+1)
			for i := range labels {
				dest = append(dest, &labels[i])
			}
			var v float64
			if err := rows.Scan(append(dest, &v)...); err != nil {
				rows.Close()
				return err
			}
			ch <- prometheus.MustNewConstMetric(r.desc, prometheus.GaugeValue, v, labels...)
		}
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

// The station worker records through Metrics.
var _ StationMetrics = (*Metrics)(nil)
