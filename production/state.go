package production

import "fmt"

// CardState says where a card physically is. Every change goes through CardState.To, which knows
// the allowed transitions, and is written to the audit log with time and actor.
type CardState string

// The card states, in the order a good card passes them.
const (
	CardQueued       CardState = "queued"        // waiting for a station
	CardInProduction CardState = "in_production" // a station has taken it and fed a blank
	CardEncoded      CardState = "encoded"       // chip written and read back good
	CardPrinted      CardState = "printed"       // print job completed
	CardProduced     CardState = "produced"      // in the output tray, ready to pack
	CardSpoiled      CardState = "spoiled"       // in the reject tray; its chip is void
	CardDispatched   CardState = "dispatched"    // handed to the post
	CardBlocked      CardState = "blocked"       // replaced, lost or stolen: never valid again
)

// cardTransitions is the one table of allowed card transitions. A spoiled card is remade (back to
// queued, same number, new chip); a card can be blocked from any state but blocked.
var cardTransitions = map[CardState][]CardState{
	CardQueued:       {CardInProduction, CardBlocked},
	CardInProduction: {CardEncoded, CardSpoiled, CardQueued, CardBlocked},
	CardEncoded:      {CardPrinted, CardSpoiled, CardBlocked},
	CardPrinted:      {CardProduced, CardSpoiled, CardBlocked},
	CardProduced:     {CardDispatched, CardSpoiled, CardBlocked},
	CardSpoiled:      {CardQueued, CardBlocked},
	CardDispatched:   {CardBlocked},
	CardBlocked:      nil,
}

// To checks that a card in state s may move to t.
func (s CardState) To(t CardState) error {
	for _, ok := range cardTransitions[s] {
		if ok == t {
			return nil
		}
	}
	return &TransitionError{Entity: "card", From: string(s), To: string(t)}
}

// Active reports whether a card in this state counts for the one-card-per-employment rule: every
// card that is not blocked does.
func (s CardState) Active() bool { return s != CardBlocked }

// OrderState is where an order is in the line, derived from its cards as they move.
type OrderState string

// The order states.
const (
	OrderAccepted     OrderState = "accepted"      // stored, cards queued
	OrderRejected     OrderState = "rejected"      // stored with its problems; no cards
	OrderInProduction OrderState = "in_production" // at least one card taken by a station
	OrderProduced     OrderState = "produced"      // every card produced, ready to ship
	OrderDispatched   OrderState = "dispatched"    // every envelope handed to the post
)

var orderTransitions = map[OrderState][]OrderState{
	OrderAccepted:     {OrderInProduction},
	OrderRejected:     nil,
	OrderInProduction: {OrderProduced},
	OrderProduced:     {OrderDispatched, OrderInProduction}, // a card spoiled at packing is remade
	OrderDispatched:   nil,
}

// To checks that an order in state s may move to t.
func (s OrderState) To(t OrderState) error {
	for _, ok := range orderTransitions[s] {
		if ok == t {
			return nil
		}
	}
	return &TransitionError{Entity: "order", From: string(s), To: string(t)}
}

// A TransitionError is a move the state machine does not allow.
type TransitionError struct {
	Entity, ID, From, To string
}

func (e *TransitionError) Error() string {
	id := ""
	if e.ID != "" {
		id = " " + e.ID
	}
	return fmt.Sprintf("%s%s: %s → %s is not an allowed transition", e.Entity, id, e.From, e.To)
}
