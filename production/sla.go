package production

import (
	"cmp"
	"slices"
	"time"
)

// OrderWork is what the SLA sweep knows of an order not yet dispatched: its deadline and how many
// of its cards still need a station (not produced: queued, at a station, or spoiled and to be remade).
type OrderWork struct {
	OrderID    string
	CardType   CardType
	DispatchBy time.Time // the date; only its year, month and day count
	Remaining  int
	AtRisk     bool // already flagged by an earlier sweep
}

// An SLAAssessment is the sweep's verdict on one order: when its cards would be ready on current
// capacity, the pickup that would take them, and the slack between that pickup and the end of its
// dispatch day (Oslo). An order is at risk when the slack is not positive: the pickup falls after
// its dispatch_by date.
type SLAAssessment struct {
	OrderID  string
	ReadyAt  time.Time
	PickupAt time.Time
	Slack    time.Duration
	AtRisk   bool
	// NewlyAtRisk is an order at risk that no earlier sweep had flagged.
	NewlyAtRisk bool
	// Unserved: no station in service is loaded with the order's card type, so it has no ready
	// time (ReadyAt and PickupAt zero, Slack 0) and is at risk.
	Unserved bool
}

// AssessSLA judges every order against its deadline. Stations make capacity.Total cards an hour
// between them, taking the earliest deadline first (the planner's order, and the one that meets
// the most deadlines), so an order's cards are ready once its own cards and those of every order
// due no later are made: remaining production of an order counts the work queued before it, not
// only its own. Its card type's stations make at most capacity.PerType of it an hour, which bounds
// the same count over the orders of that type; the later of the two bounds is the ready time. Both
// are optimistic, so an order late on them is late on any schedule. An order with nothing left to
// make is ready now; one whose card type no station makes is Unserved. nextPickup gives the post
// pickup that takes what is ready at a time (shipping's schedule: business days, pickup and
// cut-off). Production time counts only inside hours (ProductionHours). Orders come back in
// deadline order. capacity.Total must be positive.
func AssessSLA(orders []OrderWork, now time.Time, capacity Capacity, hours ProductionHours, zone *time.Location,
	nextPickup func(readyAt time.Time) (time.Time, error)) ([]SLAAssessment, error) {
	sorted := slices.Clone(orders)
	slices.SortFunc(sorted, func(a, b OrderWork) int {
		return cmp.Or(a.DispatchBy.Compare(b.DispatchBy), cmp.Compare(a.OrderID, b.OrderID))
	})
	after := func(cards int, perHour float64) time.Time {
		return hours.After(now, time.Duration(float64(cards)/perHour*float64(time.Hour)))
	}
	out := make([]SLAAssessment, 0, len(sorted))
	ahead := 0
	aheadOfType := map[CardType]int{}
	for _, o := range sorted {
		y, m, d := o.DispatchBy.Date()
		end := time.Date(y, m, d+1, 0, 0, 0, 0, zone)
		ready := now
		if o.Remaining > 0 {
			ahead += o.Remaining
			aheadOfType[o.CardType] += o.Remaining
			ready = after(ahead, capacity.Total)
			if capacity.PerType != nil {
				perHour := capacity.PerType[o.CardType]
				if perHour <= 0 {
					out = append(out, SLAAssessment{OrderID: o.OrderID, AtRisk: true, NewlyAtRisk: !o.AtRisk, Unserved: true})
					continue
				}
				if t := after(aheadOfType[o.CardType], perHour); t.After(ready) {
					ready = t
				}
			}
		}
		pickup, err := nextPickup(ready)
		if err != nil {
			return nil, err
		}
		a := SLAAssessment{OrderID: o.OrderID, ReadyAt: ready, PickupAt: pickup, Slack: end.Sub(pickup)}
		a.AtRisk = a.Slack <= 0
		a.NewlyAtRisk = a.AtRisk && !o.AtRisk
		out = append(out, a)
	}
	return out, nil
}
