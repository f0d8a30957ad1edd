package shipping

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// CardState is where a card stands as far as packing cares. Production's states map onto it:
// ParseCardState takes production's names (queued, in_production, encoded and printed are all
// CardPending).
type CardState string

// The card states shipping distinguishes.
const (
	CardPending    CardState = "pending"    // still being made: not packed, the order waits for it
	CardReady      CardState = "produced"   // in the output tray: packed
	CardSpoiled    CardState = "spoiled"    // in the reject tray, being remade: never packed, waited for
	CardBlocked    CardState = "blocked"    // never valid again: never packed, not waited for
	CardDispatched CardState = "dispatched" // already handed to the post: not packed again
)

// ParseCardState maps a production card state name onto shipping's view of it.
func ParseCardState(s string) (CardState, error) {
	switch s {
	case "queued", "in_production", "encoded", "printed", string(CardPending):
		return CardPending, nil
	case string(CardReady), string(CardSpoiled), string(CardBlocked), string(CardDispatched):
		return CardState(s), nil
	}
	return "", fmt.Errorf("unknown card state %q", s)
}

// An OrderToShip is what packing needs to know about one order; the store maps production's orders
// onto it, so that the plan is pure. Deadline is the order's dispatch date: the cards must
// leave by the end of that day (its date is taken in the Schedule's zone). Accessories are those
// still to ship: empty once the order's parcel has gone.
type OrderToShip struct {
	OrderID     string
	Deadline    time.Time
	Address     Address
	Cards       []CardToShip
	Accessories []Accessory
	// ParcelLabels is how many parcel labels were made for this order before (voided ones
	// included); the next one gets the following sequence.
	ParcelLabels int
}

// A CardToShip is one card of an order. Labels is how many envelope labels were made for it before
// (voided ones included), so that a relabelled card gets a fresh envelope id.
type CardToShip struct {
	Number string
	State  CardState
	Labels int
}

// An Accessory is an extra product (a card holder, a lanyard) shipped in the order's own parcel,
// never in a card's envelope.
type Accessory struct {
	SKU      string
	Quantity int
}

// An Envelope is one letter: exactly one card and its carrier letter, addressed to the order's
// delivery address. Index and Of number the order's cards ("card 2 of 3", blocked cards not
// counted) so that the recipient knows how many to expect. Late is set when the pickup falls after
// the order's deadline.
type Envelope struct {
	ID         EnvelopeID
	CardNumber string
	OrderID    string
	To         Address
	Deadline   time.Time
	Index, Of  int
	Late       bool
}

// A Parcel holds all the accessories of one order, never a card: the scheme ships card holders in
// their own shipment. It goes with the order's first envelopes.
type Parcel struct {
	ID       ParcelID
	OrderID  string
	To       Address
	Items    []Accessory
	Deadline time.Time
	Late     bool
}

// A Batch is everything handed to the post at one pickup: envelopes and parcels sorted by postal
// code (then order, then card), the order in which they are labelled, packed and listed on the
// manifest. Items ready after CutOff wait for the next pickup.
type Batch struct {
	ID        BatchID
	Pickup    time.Time
	CutOff    time.Time
	Envelopes []Envelope
	Parcels   []Parcel
}

// A Held order has something ready that does not go at this pickup, and says why, so that logistics
// sees it (an unprintable address, or cards still waiting for remakes).
type Held struct {
	OrderID string
	Reason  string
	// Ready are the card numbers that are ready but held.
	Ready []string
}

// A Schedule is when the post collects: on every business day at PickupAt after local midnight in
// Zone; what is ready before CutOff (also after midnight, at most PickupAt) goes with that pickup.
// IsBusinessDay is the line's one Norwegian calendar (production.BusinessDays.IsBusinessDay).
type Schedule struct {
	Zone          *time.Location
	PickupAt      time.Duration
	CutOff        time.Duration
	IsBusinessDay func(time.Time) bool
}

// A PackingPlan is the result of Plan: the batch for the next pickup and the orders held back.
type PackingPlan struct {
	Batch Batch
	Held  []Held
}

func (s Schedule) check() error {
	switch {
	case s.Zone == nil:
		return errors.New("schedule: zone is required")
	case s.IsBusinessDay == nil:
		return errors.New("schedule: business-day calendar is required")
	case s.PickupAt <= 0 || s.PickupAt >= 24*time.Hour || s.PickupAt%time.Minute != 0:
		return fmt.Errorf("schedule: pickup %v must be a whole minute within the day", s.PickupAt)
	case s.CutOff <= 0 || s.CutOff > s.PickupAt || s.CutOff%time.Minute != 0:
		return fmt.Errorf("schedule: cut-off %v must be a whole minute, not after pickup %v", s.CutOff, s.PickupAt)
	}
	return nil
}

// at is the wall-clock time d after midnight on day's date in the zone (DST-safe: by clock, not
// by elapsed time).
func (s Schedule) at(day time.Time, d time.Duration) time.Time {
	y, m, dd := day.In(s.Zone).Date()
	return time.Date(y, m, dd, int(d/time.Hour), int(d%time.Hour/time.Minute), 0, 0, s.Zone)
}

// NextPickup is the first pickup whose cut-off is after now: today's if now is before today's
// cut-off on a business day, else the next business day's.
func (s Schedule) NextPickup(now time.Time) (pickup, cutOff time.Time, err error) {
	if err := s.check(); err != nil {
		return time.Time{}, time.Time{}, err
	}
	y, m, d := now.In(s.Zone).Date()
	for i := range 60 { // Norway never has more than a few non-business days in a row
		day := time.Date(y, m, d+i, 12, 0, 0, 0, s.Zone)
		if !s.IsBusinessDay(day) {
			continue
		}
		if c := s.at(day, s.CutOff); now.Before(c) {
			return s.at(day, s.PickupAt), c, nil
		}
	}
	return time.Time{}, time.Time{}, fmt.Errorf("schedule: no business day within 60 days of %s", now.Format(time.DateOnly))
}

// onTime reports whether a pickup at p meets a deadline: p's date is not after the deadline's date.
func (s Schedule) onTime(p, deadline time.Time) bool {
	py, pm, pd := p.In(s.Zone).Date()
	dy, dm, dd := deadline.In(s.Zone).Date()
	return !time.Date(py, pm, pd, 0, 0, 0, 0, time.UTC).After(time.Date(dy, dm, dd, 0, 0, 0, 0, time.UTC))
}

// Plan packs the orders for the next pickup after now. For each order:
//
//   - blocked cards are never packed and not waited for; dispatched cards are done; spoiled and
//     pending cards are outstanding;
//   - with nothing outstanding, every ready card gets its own envelope to the order's address, and
//     the accessories one parcel;
//   - with cards outstanding (remakes), the ready cards wait for them — one delivery per order — as
//     long as a later pickup still meets the deadline. At the last pickup that meets the deadline
//     the ready cards go now (with the parcel) and the rest follow as soon as they are ready: a
//     split delivery is the price of keeping the promise for the cards that can keep it. Once the
//     deadline has passed, splitting no longer saves it, so a late order waits for its last card;
//   - an order whose address cannot be printed on a label is held with the reason.
//
// A split is decided on the cards' states when Plan runs, so the store runs it for real at the
// cut-off (earlier runs are previews): a remake finished before the cut-off still goes with its
// order. Plan fails only for a bad schedule; a bad order is held, with the reason, not fatal.
func Plan(orders []OrderToShip, now time.Time, s Schedule) (PackingPlan, error) {
	pickup, cutOff, err := s.NextPickup(now)
	if err != nil {
		return PackingPlan{}, err
	}
	// The pickup after this one: its date decides whether waiting still meets a deadline.
	following, _, err := s.NextPickup(cutOff)
	if err != nil {
		return PackingPlan{}, err
	}
	plan := PackingPlan{Batch: Batch{ID: NewBatchID(pickup), Pickup: pickup, CutOff: cutOff}}
	for _, o := range orders {
		envs, parcel, held := planOrder(o, pickup, following, s)
		plan.Batch.Envelopes = append(plan.Batch.Envelopes, envs...)
		if parcel != nil {
			plan.Batch.Parcels = append(plan.Batch.Parcels, *parcel)
		}
		if held != nil {
			plan.Held = append(plan.Held, *held)
		}
	}
	slices.SortFunc(plan.Batch.Envelopes, func(a, b Envelope) int {
		return cmp.Or(cmp.Compare(a.To.PostalCode, b.To.PostalCode), cmp.Compare(a.OrderID, b.OrderID), cmp.Compare(a.CardNumber, b.CardNumber))
	})
	slices.SortFunc(plan.Batch.Parcels, func(a, b Parcel) int {
		return cmp.Or(cmp.Compare(a.To.PostalCode, b.To.PostalCode), cmp.Compare(a.OrderID, b.OrderID))
	})
	slices.SortFunc(plan.Held, func(a, b Held) int { return cmp.Compare(a.OrderID, b.OrderID) })
	return plan, nil
}

func planOrder(o OrderToShip, pickup, following time.Time, s Schedule) ([]Envelope, *Parcel, *Held) {
	var ready, live []CardToShip // live: every card not blocked, for "card i of n"
	outstanding := 0
	for _, c := range o.Cards {
		switch c.State {
		case CardReady:
			ready = append(ready, c)
		case CardPending, CardSpoiled:
			outstanding++
		case CardBlocked:
			continue
		case CardDispatched:
		default:
			return nil, nil, &Held{OrderID: o.OrderID, Reason: fmt.Sprintf("card %s: unknown state %q", c.Number, c.State)}
		}
		live = append(live, c)
	}
	if len(ready) == 0 && (outstanding > 0 || len(o.Accessories) == 0) {
		return nil, nil, nil // nothing to pack yet
	}
	numbers := make([]string, len(ready))
	for i, c := range ready {
		numbers[i] = c.Number
	}
	hold := func(format string, args ...any) (_ []Envelope, _ *Parcel, _ *Held) {
		return nil, nil, &Held{OrderID: o.OrderID, Reason: fmt.Sprintf(format, args...), Ready: numbers}
	}
	if err := o.Address.Validate(); err != nil {
		return hold("delivery address cannot be printed on a label: %v", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	if outstanding > 0 {
		day := o.Deadline.In(s.Zone).Format(time.DateOnly)
		switch {
		case !s.onTime(pickup, o.Deadline):
			return hold("late (deadline %s passed): waits for its last %d card(s) still in production", day, outstanding)
		case s.onTime(following, o.Deadline):
			return hold("waits for %d card(s) still in production: the pickup on %s still meets the deadline %s", outstanding, following.Format(time.DateOnly), day)
		}
		// The last pickup that meets the deadline: ship what is ready.
	}
	late := !s.onTime(pickup, o.Deadline)
	slices.SortFunc(live, func(a, b CardToShip) int { return cmp.Compare(a.Number, b.Number) })
	var envs []Envelope
	for _, c := range ready {
		id, err := NewEnvelopeID(c.Number, c.Labels+1)
		if err != nil {
			return hold("envelope for card %s: %v", c.Number, err)
		}
		idx := slices.IndexFunc(live, func(x CardToShip) bool { return x.Number == c.Number })
		envs = append(envs, Envelope{ID: id, CardNumber: c.Number, OrderID: o.OrderID, To: o.Address,
			Deadline: o.Deadline, Index: idx + 1, Of: len(live), Late: late})
	}
	var parcel *Parcel
	if len(o.Accessories) > 0 {
		if len(o.Cards) == 0 {
			return hold("accessories without cards: the parcel id needs the order's card number")
		}
		lowest := slices.MinFunc(o.Cards, func(a, b CardToShip) int { return cmp.Compare(a.Number, b.Number) })
		id, err := NewParcelID(lowest.Number, o.ParcelLabels+1)
		if err != nil {
			return hold("parcel: %v", err)
		}
		parcel = &Parcel{ID: id, OrderID: o.OrderID, To: o.Address, Items: slices.Clone(o.Accessories), Deadline: o.Deadline, Late: late}
	}
	return envs, parcel, nil
}
