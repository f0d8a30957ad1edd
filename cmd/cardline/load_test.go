package main

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"cardline/internal/testsupport"
)

// TestLoadRun proves the load harness end to end on a few cards: every card is made, mailed,
// shipped and dispatched, and the figures are printed. Speed is measured by `cardline load`, not
// asserted here.
func TestLoadRun(t *testing.T) {
	for _, c := range []struct {
		pipelined bool
		phases    []string
	}{
		{true, []string{"the whole line, pipelined"}},
		{false, []string{"intake (+ mail handler)", "temporary-card mail", "planning", "stations", "shipping"}},
	} {
		t.Run(fmt.Sprintf("pipelined=%v", c.pipelined), func(t *testing.T) {
			db := testsupport.Postgres(t)
			r, err := runLoad(context.Background(), loadOptions{cards: 30, stations: 2, perOrder: 3, seed: 1, databaseURL: db, pipelined: c.pipelined})
			if err != nil {
				t.Fatal(err)
			}
			if r.cards != 30 || r.orders != 10 || r.mails != 10 {
				t.Errorf("%d cards in %d orders, %d mails; want 30 in 10, 10 mails", r.cards, r.orders, r.mails)
			}
			var names []string
			for _, p := range r.phases {
				names = append(names, p.name)
			}
			if !slices.Equal(names, c.phases) || r.wall <= 0 || r.cpu <= 0 || r.peakRSSKB <= 0 {
				t.Errorf("figures missing: %+v", r)
			}
			var out bytes.Buffer
			r.print(&out)
			for _, want := range append([]string{"cards/s", "ms/card", "peak RSS"}, c.phases...) {
				if !strings.Contains(out.String(), want) {
					t.Errorf("report lacks %q:\n%s", want, out.String())
				}
			}
			t.Log("\n" + out.String())
		})
	}
}
