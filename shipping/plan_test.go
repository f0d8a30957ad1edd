package shipping

import (
	"slices"
	"strings"
	"testing"
	"time"
	_ "time/tzdata"
)

func oslo(t testing.TB) *time.Location {
	t.Helper()
	z, err := time.LoadLocation("Europe/Oslo")
	if err != nil {
		t.Fatal(err)
	}
	return z
}

// testSchedule collects at 15:00, cut-off 14:00, Monday to Friday except Christmas Day and
// Boxing Day 2026 (a stand-in for production's calendar, which has its own tests).
func testSchedule(t testing.TB) Schedule {
	z := oslo(t)
	return Schedule{Zone: z, PickupAt: 15 * time.Hour, CutOff: 14 * time.Hour,
		IsBusinessDay: func(d time.Time) bool {
			d = d.In(z)
			if wd := d.Weekday(); wd == time.Saturday || wd == time.Sunday {
				return false
			}
			md := d.Format("01-02")
			return md != "12-25" && md != "12-26"
		}}
}

func TestNextPickup(t *testing.T) {
	s := testSchedule(t)
	z := s.Zone
	at := func(m time.Month, d, h, min int) time.Time { return time.Date(2026, m, d, h, min, 0, 0, z) }
	for _, tc := range []struct {
		name string
		now  time.Time
		want time.Time
	}{
		{"before cut-off: today", at(11, 23, 9, 0), at(11, 23, 15, 0)},
		{"at cut-off: next business day", at(11, 23, 14, 0), at(11, 24, 15, 0)},
		{"between cut-off and pickup: next business day", at(11, 23, 14, 30), at(11, 24, 15, 0)},
		{"Friday evening: Monday", at(11, 27, 18, 0), at(11, 30, 15, 0)},
		{"Saturday: Monday", at(11, 28, 10, 0), at(11, 30, 15, 0)},
		{"Christmas Eve after cut-off: past the holidays and the weekend", at(12, 24, 14, 1), at(12, 28, 15, 0)},
		{"UTC input just before cut-off in Oslo", time.Date(2026, 11, 23, 12, 59, 0, 0, time.UTC), at(11, 23, 15, 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, cut, err := s.NextPickup(tc.now)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(tc.want) || !cut.Equal(tc.want.Add(-time.Hour)) {
				t.Errorf("NextPickup(%v) = %v (cut-off %v), want %v", tc.now, got, cut, tc.want)
			}
		})
	}
	bad := s
	bad.CutOff = 16 * time.Hour
	if _, _, err := bad.NextPickup(at(11, 23, 9, 0)); err == nil || !strings.Contains(err.Error(), "cut-off") {
		t.Errorf("cut-off after pickup: err = %v, want a cut-off error", err)
	}
}

func TestPlan(t *testing.T) {
	s := testSchedule(t)
	z := s.Zone
	day := func(m time.Month, d int) time.Time { return time.Date(2026, m, d, 0, 0, 0, 0, z) }
	at := func(m time.Month, d, h int) time.Time { return time.Date(2026, m, d, h, 0, 0, 0, z) }
	oslo0155 := Address{Name: "Bygg og Rør AS", Attention: "HR", Street: "Storgata 1", PostalCode: "0155", City: "OSLO", Country: "NO"}
	bergen := Address{Name: "Vestland Renhold AS", Street: "Strandkaien 2", PostalCode: "5003", City: "BERGEN", Country: "NO"}
	card := func(n string, st CardState) CardToShip { return CardToShip{Number: n, State: st} }
	const c1, c2, c3, c4, c5 = "1000000016", "1000000024", "1000000032", "1000000040", "1000000057"

	type want struct {
		batch     BatchID
		envelopes []string // ids in batch order
		of        []int    // Of of each envelope
		parcels   []string
		late      bool   // every item late
		held      string // order id held, "" for none
		reason    string // substring of its reason
	}
	for _, tc := range []struct {
		name   string
		now    time.Time
		orders []OrderToShip
		want   want
	}{
		{
			name: "complete orders: one envelope per card, parcel of their own, sorted by postal code",
			now:  at(11, 23, 9),
			orders: []OrderToShip{
				{OrderID: "A-2", Deadline: day(11, 27), Address: bergen, Cards: []CardToShip{card(c3, CardReady)}},
				{OrderID: "A-1", Deadline: day(11, 27), Address: oslo0155, Cards: []CardToShip{card(c2, CardReady), card(c1, CardReady)},
					Accessories: []Accessory{{SKU: "cardholder", Quantity: 2}}},
			},
			want: want{batch: "B20261123-1500", envelopes: []string{"E100000001601", "E100000002401", "E100000003201"}, of: []int{2, 2, 1},
				parcels: []string{"P100000001601"}},
		},
		{
			name: "blocked card is neither packed nor waited for; dispatched not packed again",
			now:  at(11, 23, 9),
			orders: []OrderToShip{{OrderID: "A-1", Deadline: day(11, 27), Address: oslo0155,
				Cards: []CardToShip{card(c1, CardBlocked), card(c2, CardReady), card(c3, CardDispatched)}}},
			want: want{batch: "B20261123-1500", envelopes: []string{"E100000002401"}, of: []int{2}},
		},
		{
			name: "remake outstanding, a later pickup still meets the deadline: ready cards wait",
			now:  at(11, 23, 9),
			orders: []OrderToShip{{OrderID: "A-1", Deadline: day(11, 26), Address: oslo0155,
				Cards: []CardToShip{card(c1, CardReady), card(c2, CardSpoiled)}, Accessories: []Accessory{{SKU: "lanyard", Quantity: 1}}}},
			want: want{batch: "B20261123-1500", held: "A-1", reason: "waits for 1 card(s) still in production: the pickup on 2026-11-24 still meets the deadline 2026-11-26"},
		},
		{
			name: "remake outstanding at the last pickup that meets the deadline: ready cards and parcel go",
			now:  at(11, 26, 9),
			orders: []OrderToShip{{OrderID: "A-1", Deadline: day(11, 26), Address: oslo0155,
				Cards: []CardToShip{card(c1, CardReady), card(c2, CardPending), card(c3, CardReady)}, Accessories: []Accessory{{SKU: "lanyard", Quantity: 1}}}},
			want: want{batch: "B20261126-1500", envelopes: []string{"E100000001601", "E100000003201"}, of: []int{3, 3}, parcels: []string{"P100000001601"}},
		},
		{
			name: "last pickup before the deadline is Friday when the deadline falls on a weekend",
			now:  at(11, 27, 13),
			orders: []OrderToShip{{OrderID: "A-1", Deadline: day(11, 29), Address: oslo0155,
				Cards: []CardToShip{card(c1, CardReady), card(c2, CardPending)}}},
			want: want{batch: "B20261127-1500", envelopes: []string{"E100000001601"}, of: []int{2}},
		},
		{
			name: "late with a remake outstanding: waits for its last card",
			now:  at(11, 26, 9),
			orders: []OrderToShip{{OrderID: "A-1", Deadline: day(11, 25), Address: oslo0155,
				Cards: []CardToShip{card(c1, CardReady), card(c2, CardSpoiled)}}},
			want: want{batch: "B20261126-1500", held: "A-1", reason: "late (deadline 2026-11-25 passed)"},
		},
		{
			name: "late and complete: ships, marked late",
			now:  at(11, 26, 15),
			orders: []OrderToShip{{OrderID: "A-1", Deadline: day(11, 26), Address: oslo0155,
				Cards: []CardToShip{card(c1, CardReady)}, Accessories: []Accessory{{SKU: "cardholder", Quantity: 1}}}},
			want: want{batch: "B20261127-1500", envelopes: []string{"E100000001601"}, of: []int{1}, parcels: []string{"P100000001601"}, late: true},
		},
		{
			name: "rest of a split order follows once ready",
			now:  at(11, 27, 9),
			orders: []OrderToShip{{OrderID: "A-1", Deadline: day(11, 26), Address: oslo0155,
				Cards: []CardToShip{card(c1, CardDispatched), card(c2, CardReady)}}},
			want: want{batch: "B20261127-1500", envelopes: []string{"E100000002401"}, of: []int{2}, late: true},
		},
		{
			name: "relabelled card and parcel get the next label sequence",
			now:  at(11, 23, 9),
			orders: []OrderToShip{{OrderID: "A-1", Deadline: day(11, 27), Address: oslo0155, ParcelLabels: 1,
				Cards:       []CardToShip{{Number: c4, State: CardReady, Labels: 2}, card(c5, CardReady)},
				Accessories: []Accessory{{SKU: "cardholder", Quantity: 1}}}},
			want: want{batch: "B20261123-1500", envelopes: []string{"E100000004003", "E100000005701"}, of: []int{2, 2}, parcels: []string{"P100000004002"}},
		},
		{
			name: "unprintable address: held with the field and rule",
			now:  at(11, 23, 9),
			orders: []OrderToShip{{OrderID: "A-1", Deadline: day(11, 27), Address: Address{Name: "X AS", Street: "Gata 1", City: "OSLO", Country: "NO"},
				Cards: []CardToShip{card(c1, CardReady)}}},
			want: want{batch: "B20261123-1500", held: "A-1", reason: "postal_code: must be a 4-digit Norwegian postal code"},
		},
		{
			name: "nothing ready: nothing packed, nothing held",
			now:  at(11, 23, 9),
			orders: []OrderToShip{{OrderID: "A-1", Deadline: day(11, 27), Address: oslo0155,
				Cards: []CardToShip{card(c1, CardPending)}, Accessories: []Accessory{{SKU: "cardholder", Quantity: 1}}}},
			want: want{batch: "B20261123-1500"},
		},
		{
			name: "unknown card state: held, not guessed",
			now:  at(11, 23, 9),
			orders: []OrderToShip{{OrderID: "A-1", Deadline: day(11, 27), Address: oslo0155,
				Cards: []CardToShip{card(c1, CardReady), card(c2, "printed")}}},
			want: want{batch: "B20261123-1500", held: "A-1", reason: `unknown state "printed"`},
		},
		{
			name: "after Christmas Eve's cut-off: the batch is Monday's",
			now:  at(12, 24, 14),
			orders: []OrderToShip{{OrderID: "A-1", Deadline: day(12, 28), Address: oslo0155,
				Cards: []CardToShip{card(c1, CardReady)}}},
			want: want{batch: "B20261228-1500", envelopes: []string{"E100000001601"}, of: []int{1}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Plan(tc.orders, tc.now, s)
			if err != nil {
				t.Fatal(err)
			}
			b := p.Batch
			if b.ID != tc.want.batch {
				t.Errorf("batch %s, want %s", b.ID, tc.want.batch)
			}
			var envs, parcels []string
			var of []int
			for _, e := range b.Envelopes {
				envs, of = append(envs, string(e.ID)), append(of, e.Of)
				if e.ID.Card() != e.CardNumber || e.Late != tc.want.late {
					t.Errorf("envelope %s: card %s late %v, want card %s late %v", e.ID, e.CardNumber, e.Late, e.ID.Card(), tc.want.late)
				}
				if e.Index < 1 || e.Index > e.Of {
					t.Errorf("envelope %s: card %d of %d", e.ID, e.Index, e.Of)
				}
			}
			for _, pc := range b.Parcels {
				parcels = append(parcels, string(pc.ID))
				if pc.Late != tc.want.late || len(pc.Items) == 0 {
					t.Errorf("parcel %s: late %v items %v", pc.ID, pc.Late, pc.Items)
				}
			}
			if !slices.Equal(envs, tc.want.envelopes) || !slices.Equal(of, tc.want.of) {
				t.Errorf("envelopes %v of %v, want %v of %v", envs, of, tc.want.envelopes, tc.want.of)
			}
			if !slices.Equal(parcels, tc.want.parcels) {
				t.Errorf("parcels %v, want %v", parcels, tc.want.parcels)
			}
			switch {
			case tc.want.held == "" && len(p.Held) > 0:
				t.Errorf("held %+v, want none", p.Held)
			case tc.want.held != "" && (len(p.Held) != 1 || p.Held[0].OrderID != tc.want.held || !strings.Contains(p.Held[0].Reason, tc.want.reason)):
				t.Errorf("held %+v, want %s with reason containing %q", p.Held, tc.want.held, tc.want.reason)
			}
		})
	}
}

func TestParseCardState(t *testing.T) {
	for in, want := range map[string]CardState{
		"queued": CardPending, "in_production": CardPending, "encoded": CardPending, "printed": CardPending,
		"produced": CardReady, "spoiled": CardSpoiled, "blocked": CardBlocked, "dispatched": CardDispatched,
	} {
		if got, err := ParseCardState(in); err != nil || got != want {
			t.Errorf("ParseCardState(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseCardState("lost"); err == nil {
		t.Error("ParseCardState(lost): no error")
	}
}
