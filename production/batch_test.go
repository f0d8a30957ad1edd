package production

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestBatchTransitions(t *testing.T) {
	for _, tc := range []struct {
		from, to BatchState
		ok       bool
	}{
		{BatchPlanned, BatchStarted, true},
		{BatchPlanned, BatchPaused, false},
		{BatchPlanned, BatchClosed, true},
		{BatchStarted, BatchPaused, true},
		{BatchStarted, BatchClosed, true},
		{BatchStarted, BatchPlanned, false},
		{BatchPaused, BatchStarted, true},
		{BatchPaused, BatchClosed, true},
		{BatchPaused, BatchPaused, false},
		{BatchClosed, BatchStarted, false},
		{BatchClosed, BatchPlanned, false},
	} {
		err := tc.from.To(tc.to)
		if (err == nil) != tc.ok {
			t.Errorf("%s → %s: err = %v, want ok = %v", tc.from, tc.to, err, tc.ok)
		}
		var te *TransitionError
		if err != nil && (!errors.As(err, &te) || te.Entity != "batch") {
			t.Errorf("%s → %s: error %v is not a batch TransitionError", tc.from, tc.to, err)
		}
	}
	for _, s := range []BatchState{BatchPlanned, BatchStarted, BatchPaused, BatchClosed} {
		if _, ok := batchTransitions[s]; !ok {
			t.Errorf("state %s is missing from the transition table", s)
		}
	}
}

// planDay is a dispatch date in November 2026.
func planDay(d int) time.Time { return time.Date(2026, 11, d, 0, 0, 0, 0, time.UTC) }

// planOrder makes n queued cards of one order due on planDay(due); card numbers are
// "<order>/<position>".
func planOrder(id string, typ CardType, due int, atRisk bool, n int) []QueuedCard {
	var out []QueuedCard
	for i := range n {
		out = append(out, QueuedCard{Number: CardNumber(fmt.Sprintf("%s/%d", id, i)), OrderID: id, Position: i,
			CardType: typ, DispatchBy: planDay(due), AtRisk: atRisk})
	}
	return out
}

func TestPlanBatches(t *testing.T) {
	order := planOrder
	cat := func(parts ...[]QueuedCard) []QueuedCard {
		var out []QueuedCard
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	type batch struct {
		typ    CardType
		atRisk bool
		due    int
		cards  string
	}
	for _, tc := range []struct {
		name  string
		cards []QueuedCard
		size  int
		want  []batch
	}{
		{"nothing queued", nil, 10, nil},
		{"earliest deadline first", cat(order("B", Construction, 27, false, 2), order("A", Construction, 25, false, 2)), 10,
			[]batch{{Construction, false, 25, "A/0 A/1 B/0 B/1"}}},
		{"at risk before an earlier deadline", cat(order("A", Construction, 25, false, 1), order("R", Construction, 27, true, 1)), 10,
			[]batch{{Construction, true, 25, "R/0 A/0"}}},
		{"one type a batch", cat(order("C", Cleaning, 24, false, 1), order("A", Construction, 25, false, 1), order("T", Transport, 23, false, 1)), 10,
			[]batch{{Construction, false, 25, "A/0"}, {Cleaning, false, 24, "C/0"}, {Transport, false, 23, "T/0"}}},
		{"an order that does not fit the rest starts a new batch", cat(order("A", Construction, 24, false, 3), order("B", Construction, 25, false, 2), order("C", Construction, 26, false, 1)), 4,
			[]batch{{Construction, false, 24, "A/0 A/1 A/2"}, {Construction, false, 25, "B/0 B/1 C/0"}}},
		{"an order larger than a batch spans batches from where the last one ends", cat(order("A", Construction, 24, false, 1), order("B", Construction, 25, false, 6)), 4,
			[]batch{{Construction, false, 24, "A/0 B/0 B/1 B/2"}, {Construction, false, 25, "B/3 B/4 B/5"}}},
		{"a later small order does not jump the queue to fill a gap", cat(order("A", Construction, 24, false, 3), order("B", Construction, 25, false, 3), order("C", Construction, 26, false, 1)), 4,
			[]batch{{Construction, false, 24, "A/0 A/1 A/2"}, {Construction, false, 25, "B/0 B/1 B/2 C/0"}}},
		{"ties by order id; cards by position whatever the input order", cat(order("B", Transport, 24, false, 1), reverse(order("A", Transport, 24, false, 3))), 10,
			[]batch{{Transport, false, 24, "A/0 A/1 A/2 B/0"}}},
		{"size below 1 counts as 1", order("A", Cleaning, 24, false, 2), 0,
			[]batch{{Cleaning, false, 24, "A/0"}, {Cleaning, false, 24, "A/1"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []batch
			for _, b := range PlanBatches(tc.cards, tc.size) {
				s := ""
				for i, c := range b.Cards {
					if i > 0 {
						s += " "
					}
					s += string(c)
				}
				got = append(got, batch{b.CardType, b.AtRisk, b.EarliestDispatchBy.Day(), s})
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %v\nwant %v", got, tc.want)
			}
		})
	}
}

// TestPlanBatchesTopsUpOpenBatch: cards that rank as a type's last planned batch does (at risk or
// not, and dispatch date) fill its room; cards that rank ahead of it or behind it never go into it
// (a later plan may bring cards that rank between).
func TestPlanBatchesTopsUpOpenBatch(t *testing.T) {
	order := planOrder
	open := func(id int64, typ CardType, due int, atRisk bool, n int) OpenBatch {
		return OpenBatch{ID: id, CardType: typ, AtRisk: atRisk, EarliestDispatchBy: planDay(due), Cards: n}
	}
	for _, tc := range []struct {
		name  string
		open  []OpenBatch
		cards []QueuedCard
		size  int
		want  string // batches: "→ID" for a top-up or "new" for a new batch, then its cards; "|" between
	}{
		{"an order due the same day fills the room", []OpenBatch{open(7, Construction, 25, false, 2)},
			order("B", Construction, 25, false, 2), 4, "→7 B/0 B/1"},
		{"a later order gets a batch of its own", []OpenBatch{open(7, Construction, 25, false, 2)},
			order("B", Construction, 26, false, 1), 4, "new B/0"},
		{"an earlier order gets a batch of its own", []OpenBatch{open(7, Construction, 25, false, 2)},
			order("A", Construction, 24, false, 1), 4, "new A/0"},
		{"at risk or not must match", []OpenBatch{open(7, Construction, 25, false, 2), open(8, Cleaning, 25, true, 1)},
			slices.Concat(order("R", Construction, 25, true, 1), order("C", Cleaning, 25, false, 1)), 4, "new R/0 | new C/0"},
		{"orders ahead make new batches, the same day fills the open one, a later one follows in a new batch",
			[]OpenBatch{open(7, Construction, 25, false, 1)},
			slices.Concat(order("A", Construction, 24, false, 1), order("B", Construction, 25, false, 1), order("C", Construction, 25, false, 1),
				order("D", Construction, 26, false, 1)), 4,
			"new A/0 | →7 B/0 C/0 | new D/0"},
		{"an order that does not fit the room is not split", []OpenBatch{open(7, Construction, 25, false, 3)},
			order("B", Construction, 25, false, 2), 4, "new B/0 B/1"},
		{"a full open batch takes nothing", []OpenBatch{open(7, Construction, 25, false, 4)},
			order("B", Construction, 25, false, 1), 4, "new B/0"},
		{"an order larger than a batch fills the room first", []OpenBatch{open(7, Construction, 25, false, 3)},
			order("B", Construction, 25, false, 6), 4, "→7 B/0 | new B/1 B/2 B/3 B/4 | new B/5"},
		{"only the open batch of the card's type", []OpenBatch{open(7, Cleaning, 25, false, 1)},
			order("B", Construction, 25, false, 1), 4, "new B/0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, b := range PlanBatches(tc.cards, tc.size, tc.open...) {
				s := "new"
				if b.TopUp != 0 {
					s = fmt.Sprintf("→%d", b.TopUp)
				}
				for _, c := range b.Cards {
					s += " " + string(c)
				}
				got = append(got, s)
			}
			if g := strings.Join(got, " | "); g != tc.want {
				t.Errorf("got  %s\nwant %s", g, tc.want)
			}
		})
	}
}

func reverse(cs []QueuedCard) []QueuedCard {
	out := make([]QueuedCard, len(cs))
	for i, c := range cs {
		out[len(cs)-1-i] = c
	}
	return out
}

// BenchmarkPlanBatches plans a day's queue: 10 000 cards in 4 000 orders of three types.
func BenchmarkPlanBatches(b *testing.B) {
	var cards []QueuedCard
	for o := range 4000 {
		typ := []CardType{Construction, Cleaning, Transport}[o%3]
		for p := range 1 + o%4 {
			cards = append(cards, QueuedCard{Number: CardNumber(fmt.Sprintf("%06d%02d", o, p)), OrderID: fmt.Sprintf("A-%07d", o),
				Position: p, CardType: typ, DispatchBy: time.Date(2026, 11, 23+o%5, 0, 0, 0, 0, time.UTC), AtRisk: o%50 == 0})
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		PlanBatches(cards, 50)
	}
}
