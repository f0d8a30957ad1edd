package production

import (
	"errors"
	"reflect"
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

// TestAssessSLA: orders are ready in deadline order at the line's speed, bounded also by the
// speed of the stations loaded with their card type; an order of a type no station makes is at
// risk at once.
func TestAssessSLA(t *testing.T) {
	cal, err := NewBusinessDays()
	if err != nil {
		t.Fatal(err)
	}
	z := cal.Zone()
	date := func(d int) time.Time { return time.Date(2026, 11, d, 0, 0, 0, 0, time.UTC) }
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, z) // Monday
	at := func(d, h int) time.Time { return time.Date(2026, 11, d, h, 0, 0, 0, z) }
	for _, tc := range []struct {
		name     string
		orders   []OrderWork
		capacity Capacity
		want     []SLAAssessment
	}{
		{"deadline order at the line's speed", []OrderWork{
			{OrderID: "D", DispatchBy: date(27), Remaining: 4, AtRisk: true},
			{OrderID: "C", DispatchBy: date(24), Remaining: 0},
			{OrderID: "B", DispatchBy: date(23), Remaining: 10},
			{OrderID: "A", DispatchBy: date(23), Remaining: 2},
		}, Capacity{Total: 2}, []SLAAssessment{
			// 2 cards at 2 an hour: ready 10:00, today's pickup, 9 h before the day ends.
			{OrderID: "A", ReadyAt: at(23, 10), PickupAt: at(23, 15), Slack: 9 * time.Hour},
			// Behind A: 12 cards, ready 15:00, past the cut-off: tomorrow's pickup is a day late.
			{OrderID: "B", ReadyAt: at(23, 15), PickupAt: at(24, 15), Slack: -15 * time.Hour, AtRisk: true, NewlyAtRisk: true},
			// Nothing left to make: ready now, whatever is queued before it.
			{OrderID: "C", ReadyAt: now, PickupAt: at(23, 15), Slack: 33 * time.Hour},
			// Flagged before, fine now: not at risk, and not newly so.
			{OrderID: "D", ReadyAt: at(23, 17), PickupAt: at(24, 15), Slack: 81 * time.Hour},
		}},
		// 8 cards an hour in all, of which cleaning's one station makes at most 2.
		{"bounded by the card type's stations", []OrderWork{
			{OrderID: "A", CardType: Construction, DispatchBy: date(23), Remaining: 4},
			{OrderID: "B", CardType: Cleaning, DispatchBy: date(23), Remaining: 4},
			{OrderID: "C", CardType: Cleaning, DispatchBy: date(24), Remaining: 2},
			{OrderID: "T", CardType: Transport, DispatchBy: date(27), Remaining: 1, AtRisk: true},
			{OrderID: "U", CardType: Transport, DispatchBy: date(27), Remaining: 0},
		}, Capacity{Total: 8, PerType: map[CardType]float64{Construction: 6, Cleaning: 2}}, []SLAAssessment{
			// 4 of 8 ahead in all (09:30), 4 of 6 construction an hour (09:40): the later.
			{OrderID: "A", ReadyAt: now.Add(40 * time.Minute), PickupAt: at(23, 15), Slack: 9 * time.Hour},
			// 8 in all would be 10:00, but 4 cleaning cards at 2 an hour is 11:00.
			{OrderID: "B", ReadyAt: at(23, 11), PickupAt: at(23, 15), Slack: 9 * time.Hour},
			// 6 cleaning cards at 2 an hour: 12:00.
			{OrderID: "C", ReadyAt: at(23, 12), PickupAt: at(23, 15), Slack: 33 * time.Hour},
			// No station makes transport: at risk (flagged before, so not newly).
			{OrderID: "T", AtRisk: true, Unserved: true},
			// Nothing left to make: ready now, whatever its type.
			{OrderID: "U", ReadyAt: now, PickupAt: at(23, 15), Slack: 105 * time.Hour},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := AssessSLA(tc.orders, now, tc.capacity, z, testPickup(cal))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d verdicts, want %d", len(got), len(tc.want))
			}
			for i, w := range tc.want {
				g := got[i]
				if g.OrderID != w.OrderID || !g.ReadyAt.Equal(w.ReadyAt) || !g.PickupAt.Equal(w.PickupAt) || g.Slack != w.Slack ||
					g.AtRisk != w.AtRisk || g.NewlyAtRisk != w.NewlyAtRisk || g.Unserved != w.Unserved {
					t.Errorf("verdict %d:\n got  %+v\n want %+v", i, g, w)
				}
			}
		})
	}
}

func TestStationCapacity(t *testing.T) {
	for _, tc := range []struct {
		name     string
		stations []StationRate
		want     Capacity
	}{
		{"no station: the configured figure, no limit by type", nil, Capacity{Total: 100}},
		{"none measured: the configured figure shared equally",
			[]StationRate{{Name: "a", CardTypes: []CardType{Construction}}, {Name: "b", CardTypes: []CardType{Construction, Cleaning}}},
			Capacity{Total: 100, PerType: map[CardType]float64{Construction: 100, Cleaning: 50}}},
		{"measured at their speed; an idle one at their mean",
			[]StationRate{{Name: "a", CardTypes: []CardType{Construction}, PerHour: 40, Measured: true},
				{Name: "b", CardTypes: []CardType{Cleaning}, PerHour: 60, Measured: true},
				{Name: "c", CardTypes: []CardType{Transport, Cleaning}}},
			Capacity{Total: 150, PerType: map[CardType]float64{Construction: 40, Cleaning: 110, Transport: 50}, Measured: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := StationCapacity(tc.stations, 100); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}
