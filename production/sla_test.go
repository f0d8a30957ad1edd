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
		hours    ProductionHours
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
		}, ProductionHours{}},
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
		}, ProductionHours{}},
		// 30 cards at 2 an hour are 15 hours' work: Tuesday 00:00 around the clock, in time for
		// Tuesday's pickup; but the stations make cards 07:00-15:00 only, so 6 hours today, 8
		// tomorrow and the last hour on Wednesday: a day late.
		{"counted in production hours", []OrderWork{
			{OrderID: "A", DispatchBy: date(24), Remaining: 30},
		}, Capacity{Total: 2}, []SLAAssessment{
			{OrderID: "A", ReadyAt: at(25, 8), PickupAt: at(25, 15), Slack: -15 * time.Hour, AtRisk: true, NewlyAtRisk: true},
		}, ProductionHours{Start: 7 * time.Hour, End: 15 * time.Hour, Days: cal}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := AssessSLA(tc.orders, now, tc.capacity, tc.hours, z, testPickup(cal))
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

// Production time counts only inside the hours, on business days, by the wall clock.
func TestProductionHours(t *testing.T) {
	cal, err := NewBusinessDays()
	if err != nil {
		t.Fatal(err)
	}
	z := cal.Zone()
	at := func(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, z) }
	shift, err := ParseProductionHours("07:00-15:00", cal)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		hours ProductionHours
		from  time.Time
		work  time.Duration
		want  time.Time
	}{
		{"around the clock", ProductionHours{}, at(2026, 11, 27, 14, 0), 5 * time.Hour, at(2026, 11, 27, 19, 0)},
		{"inside one day", shift, at(2026, 11, 23, 9, 0), 2 * time.Hour, at(2026, 11, 23, 11, 0)},
		{"ends at the close", shift, at(2026, 11, 23, 14, 0), time.Hour, at(2026, 11, 23, 15, 0)},
		{"carried to the next morning", shift, at(2026, 11, 23, 14, 0), 5 * time.Hour, at(2026, 11, 24, 11, 0)},
		{"begun before the start", shift, at(2026, 11, 23, 5, 0), time.Hour, at(2026, 11, 23, 8, 0)},
		{"begun after the close", shift, at(2026, 11, 23, 16, 0), 30 * time.Minute, at(2026, 11, 24, 7, 30)},
		{"over a weekend", shift, at(2026, 11, 27, 14, 0), 5 * time.Hour, at(2026, 11, 30, 11, 0)},
		{"over 17 May (a Monday)", shift, at(2027, 5, 14, 14, 0), 2 * time.Hour, at(2027, 5, 18, 8, 0)},
		{"over Easter (Maundy Thursday to Easter Monday)", shift, at(2027, 3, 24, 14, 0), 2 * time.Hour, at(2027, 3, 30, 8, 0)},
		{"across the change to winter time", shift, at(2026, 10, 23, 14, 0), 2 * time.Hour, at(2026, 10, 26, 8, 0)},
		{"several days", shift, at(2026, 11, 23, 7, 0), 24 * time.Hour, at(2026, 11, 25, 15, 0)},
	} {
		if got := tc.hours.After(tc.from, tc.work); !got.Equal(tc.want) {
			t.Errorf("%s: %s after %s is %s, want %s", tc.name, tc.work, tc.from, got.In(z), tc.want)
		}
	}
	for _, s := range []string{"15:00-07:00", "07:00", "7-15", "07:00-25:00", "07:00-07:00"} {
		if _, err := ParseProductionHours(s, cal); err == nil {
			t.Errorf("production hours %q accepted", s)
		}
	}
	for s, want := range map[string]string{"": "always", "always": "always", "00:00-24:00": "00:00-24:00", " 06:30-22:00 ": "06:30-22:00"} {
		if h, err := ParseProductionHours(s, cal); err != nil || h.String() != want {
			t.Errorf("production hours %q: %v, %v; want %s", s, h, err, want)
		}
	}
}
