package production

// Print batches and planning.
//
// Queued cards are grouped into print batches: one card type a batch (the blank stock in the
// printer differs), at-risk orders first, then the earliest dispatch deadline, an order's cards
// together. Operators start, pause, resume and close batches; a station takes cards only from
// started batches (Store.ClaimNextCard). The planner is PlanBatches (pure); the store side is
// batch_postgres.go, the clock that runs planning, the SLA sweep and retention is clock.go.
//
// TODO (what is left of issue 7 on this side):
//   - The SLA sweep bounds each order by all stations and by its card type's stations
//     (StationCapacity), but treats a station loaded with several types as making each at full
//     speed, counts a parked station as working, and does not look at the blanks left in stock. An order's at_risk flag stays until it
//     leaves, and the WARN alert is logged once.
//   - A consumer group that stops reading keeps its topic's events for as long as its offsets row
//     stays: retention names it (WARN, cardline_retention_messages_held), but there is no command
//     yet to retire a group. (The audit log, which retention cannot reach, names a rejected
//     order's problems by field and rule only.)

import (
	"cmp"
	"slices"
	"time"
)

// BatchState is where a print batch is. planned → started ⇄ paused → closed; a planned batch may
// be closed unstarted. Every change goes through BatchState.To and is written to the audit log.
type BatchState string

// The batch states.
const (
	BatchPlanned BatchState = "planned" // made by the planner; no station takes from it yet
	BatchStarted BatchState = "started" // stations take its queued cards
	BatchPaused  BatchState = "paused"  // stations take nothing new; cards already taken finish
	BatchClosed  BatchState = "closed"  // done (or given up): its queued cards are back in the pool
)

// batchTransitions is the one table of allowed batch transitions.
var batchTransitions = map[BatchState][]BatchState{
	BatchPlanned: {BatchStarted, BatchClosed},
	BatchStarted: {BatchPaused, BatchClosed},
	BatchPaused:  {BatchStarted, BatchClosed},
	BatchClosed:  nil,
}

// To checks that a batch in state s may move to t.
func (s BatchState) To(t BatchState) error {
	for _, ok := range batchTransitions[s] {
		if ok == t {
			return nil
		}
	}
	return &TransitionError{Entity: "batch", From: string(s), To: string(t)}
}

// Unfinished reports whether a card in state s still needs work before its batch is done: it is
// not yet produced (a spoiled card is remade, so it is unfinished too). A batch closes without
// --force only when none of its cards is unfinished.
func (s CardState) Unfinished() bool {
	switch s {
	case CardQueued, CardInProduction, CardEncoded, CardPrinted, CardSpoiled:
		return true
	}
	return false
}

// A PrintBatch is a group of cards of one card type printed together. Its priority among batches
// is AtRisk first, then EarliestDispatchBy, then ID (older first); within it cards go by position.
type PrintBatch struct {
	ID                 int64
	CardType           CardType
	State              BatchState
	EarliestDispatchBy time.Time
	AtRisk             bool
	CreatedAt          time.Time
	UpdatedAt          time.Time
	CreatedBy          string
	// Cards counts the batch's cards by state (ListBatches fills it in).
	Cards map[CardState]int
	// Added is how many cards the plan that returned the batch put in it: all of a new batch's,
	// or those a top-up added (PlanPrintBatches).
	Added int
}

// Total is the number of cards in the batch.
func (b PrintBatch) Total() int {
	n := 0
	for _, c := range b.Cards {
		n += c
	}
	return n
}

// A QueuedCard is what the planner needs to know of a card waiting for a batch.
type QueuedCard struct {
	Number     CardNumber
	OrderID    string
	Position   int // the card's place in its order
	CardType   CardType
	DispatchBy time.Time
	AtRisk     bool // its order was flagged by the SLA sweep
}

// A PlannedBatch is one batch PlanBatches proposes: its cards in print order. With TopUp set it
// is not a new batch but cards to append to that planned batch (after the ones it holds).
type PlannedBatch struct {
	CardType           CardType
	AtRisk             bool
	EarliestDispatchBy time.Time
	Cards              []CardNumber
	TopUp              int64 // the OpenBatch the cards go into; 0: a new batch
	held               int   // cards the topped-up batch holds already
}

// An OpenBatch is the last live batch of its card type in the order stations take batches, still
// planned (no station takes from it yet), so cards that rank exactly as it does (the same at-risk
// flag and dispatch date) may join it instead of forming a batch of their own right behind it:
// the same print order, now and after any later plan, with fewer and fuller batches. Cards that
// rank after it do not join: a later plan may bring cards that rank between the two, and those
// must go first.
type OpenBatch struct {
	ID                 int64
	CardType           CardType
	AtRisk             bool
	EarliestDispatchBy time.Time
	Cards              int // cards in it now
}

// ranksAs says whether an order (at risk, due) ranks as batch b does in the order stations take
// batches: the same at-risk flag and the same dispatch date.
func (b OpenBatch) ranksAs(atRisk bool, due time.Time) bool {
	return atRisk == b.AtRisk && due.Equal(b.EarliestDispatchBy)
}

// PlanBatches groups queued cards into batches of at most size cards (size < 1 counts as 1). The
// rules, in order:
//   - one card type a batch;
//   - orders flagged at risk first, then the earliest dispatch deadline, then the order id (so a
//     plan is the same for the same input);
//   - an order's cards stay together, in their order's position: an order that does not fit in
//     what is left of the current batch starts a new batch (the current one stays short) rather
//     than being split; only an order larger than a whole batch is split, filling the current batch
//     and as many next batches as it needs.
//
// Priority is never traded for fuller batches: a later, smaller order does not fill the gap an
// earlier order left. Batches come out by card type (construction, cleaning, transport, then any
// other type by name), each type's batches in priority order.
//
// open are the types' last live batches that are still planned (OpenBatch). The first of a type's
// orders that ranks as its open batch does fills the batch's room (kept whole as above), and the
// orders after it follow as above; the other orders make new batches as above. Stations then take
// every card in the same order as if the open batch had been left alone.
func PlanBatches(cards []QueuedCard, size int, open ...OpenBatch) []PlannedBatch {
	size = max(size, 1)
	tails := map[CardType]OpenBatch{}
	for _, b := range open {
		tails[b.CardType] = b
	}
	type order struct {
		id         string
		typ        CardType
		atRisk     bool
		dispatchBy time.Time
		cards      []QueuedCard
	}
	byKey := map[[2]string]*order{}
	var orders []*order
	for _, c := range cards {
		k := [2]string{string(c.CardType), c.OrderID}
		o := byKey[k]
		if o == nil {
			o = &order{id: c.OrderID, typ: c.CardType, dispatchBy: c.DispatchBy}
			byKey[k] = o
			orders = append(orders, o)
		}
		o.atRisk = o.atRisk || c.AtRisk
		if c.DispatchBy.Before(o.dispatchBy) {
			o.dispatchBy = c.DispatchBy
		}
		o.cards = append(o.cards, c)
	}
	typeRank := func(t CardType) int {
		switch t {
		case Construction:
			return 0
		case Cleaning:
			return 1
		case Transport:
			return 2
		}
		return 3
	}
	slices.SortFunc(orders, func(a, b *order) int {
		if c := cmp.Compare(typeRank(a.typ), typeRank(b.typ)); c != 0 {
			return c
		}
		if c := cmp.Compare(a.typ, b.typ); c != 0 {
			return c
		}
		if a.atRisk != b.atRisk {
			if a.atRisk {
				return -1
			}
			return 1
		}
		if c := a.dispatchBy.Compare(b.dispatchBy); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	var out []PlannedBatch
	var cur *PlannedBatch
	add := func(o *order, c QueuedCard) {
		if cur == nil || cur.held+len(cur.Cards) >= size || cur.CardType != o.typ {
			out = append(out, PlannedBatch{CardType: o.typ, EarliestDispatchBy: o.dispatchBy})
			cur = &out[len(out)-1]
		}
		cur.Cards = append(cur.Cards, c.Number)
		cur.AtRisk = cur.AtRisk || o.atRisk
		if cur.EarliestDispatchBy.IsZero() || (!o.dispatchBy.IsZero() && o.dispatchBy.Before(cur.EarliestDispatchBy)) {
			cur.EarliestDispatchBy = o.dispatchBy
		}
	}
	for _, o := range orders {
		slices.SortFunc(o.cards, func(a, b QueuedCard) int {
			return cmp.Or(cmp.Compare(a.Position, b.Position), cmp.Compare(a.Number, b.Number))
		})
		if t, ok := tails[o.typ]; ok && t.ranksAs(o.atRisk, o.dispatchBy) {
			delete(tails, o.typ) // only the first order that ranks as it does may start filling it
			out = append(out, PlannedBatch{CardType: o.typ, AtRisk: t.AtRisk, EarliestDispatchBy: t.EarliestDispatchBy, TopUp: t.ID, held: t.Cards})
			cur = &out[len(out)-1]
		} else if cur != nil && cur.TopUp != 0 && (cur.AtRisk != o.atRisk || !cur.EarliestDispatchBy.Equal(o.dispatchBy)) {
			cur = nil // an open batch takes only orders that rank as it does
		}
		// Keep the order whole: if it fits a batch but not what is left of this one, start anew.
		if cur != nil && cur.CardType == o.typ && len(o.cards) <= size && cur.held+len(cur.Cards)+len(o.cards) > size {
			cur = nil
		}
		for _, c := range o.cards {
			add(o, c)
		}
	}
	// An open batch already full, or whose first order behind it did not fit, takes nothing.
	return slices.DeleteFunc(out, func(b PlannedBatch) bool { return len(b.Cards) == 0 })
}
