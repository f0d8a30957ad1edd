package production

import (
	"errors"
	"testing"
	"time"
)

// testPickup is the post's schedule as shipping keeps it: business days, cut-off 14:00, pickup 15:00.
func testPickup(cal *BusinessDays) func(time.Time) (time.Time, error) {
	return func(t time.Time) (time.Time, error) {
		z := cal.Zone()
		y, m, d := t.In(z).Date()
		for i := range 30 {
			if !cal.IsBusinessDay(time.Date(y, m, d+i, 12, 0, 0, 0, z)) {
				continue
			}
			if t.Before(time.Date(y, m, d+i, 14, 0, 0, 0, z)) {
				return time.Date(y, m, d+i, 15, 0, 0, 0, z), nil
			}
		}
		return time.Time{}, errors.New("no pickup within 30 days")
	}
}

func TestAssessSLA(t *testing.T) {
	cal, err := NewBusinessDays()
	if err != nil {
		t.Fatal(err)
	}
	z := cal.Zone()
	date := func(d int) time.Time { return time.Date(2026, 11, d, 0, 0, 0, 0, time.UTC) }
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, z) // Monday
	got, err := AssessSLA([]OrderWork{
		{OrderID: "D", DispatchBy: date(27), Remaining: 4, AtRisk: true},
		{OrderID: "C", DispatchBy: date(24), Remaining: 0},
		{OrderID: "B", DispatchBy: date(23), Remaining: 10},
		{OrderID: "A", DispatchBy: date(23), Remaining: 2},
	}, now, 2, z, testPickup(cal))
	if err != nil {
		t.Fatal(err)
	}
	at := func(d, h int) time.Time { return time.Date(2026, 11, d, h, 0, 0, 0, z) }
	want := []SLAAssessment{
		// 2 cards at 2 an hour: ready 10:00, today's pickup, 9 h before the day ends.
		{OrderID: "A", ReadyAt: at(23, 10), PickupAt: at(23, 15), Slack: 9 * time.Hour},
		// Behind A: 12 cards, ready 15:00, past the cut-off: tomorrow's pickup is a day late.
		{OrderID: "B", ReadyAt: at(23, 15), PickupAt: at(24, 15), Slack: -15 * time.Hour, AtRisk: true, NewlyAtRisk: true},
		// Nothing left to make: ready now, whatever is queued before it.
		{OrderID: "C", ReadyAt: now, PickupAt: at(23, 15), Slack: 33 * time.Hour},
		// Flagged before, fine now: not at risk, and not newly so.
		{OrderID: "D", ReadyAt: at(23, 17), PickupAt: at(24, 15), Slack: 81 * time.Hour},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d verdicts, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.OrderID != w.OrderID || !g.ReadyAt.Equal(w.ReadyAt) || !g.PickupAt.Equal(w.PickupAt) || g.Slack != w.Slack ||
			g.AtRisk != w.AtRisk || g.NewlyAtRisk != w.NewlyAtRisk {
			t.Errorf("verdict %d:\n got  %+v\n want %+v", i, g, w)
		}
	}
}
