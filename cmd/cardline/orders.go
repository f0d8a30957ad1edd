package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"cardline/production"
)

func ordersCommand() command {
	return command{name: "orders", summary: "list orders with state, deadline and rejection reasons", run: func(ctx context.Context, a *app, args []string) error {
		var cfg config
		fs := newFlags(a, "cardline orders", "", "Lists orders newest first, with every reason for the rejected ones, "+
			"and the messages too broken to name an order.")
		cfg.dbFlags(fs)
		state := fs.String("state", "", "only orders in this state (accepted, rejected, in_production, produced, dispatched)")
		limit := fs.Int("limit", 100, "at most this many orders")
		asJSON := fs.Bool("json", false, "print JSON lines instead of a table")
		if err := fs.Parse(args); err != nil {
			return err
		}
		pool, err := openPool(ctx, cfg.databaseURL)
		if err != nil {
			return err
		}
		defer pool.Close()
		store := production.NewStore(pool)
		orders, err := store.ListOrders(ctx, *state, *limit)
		if err != nil {
			return err
		}
		unreadable, err := store.ListUnreadable(ctx, *limit)
		if err != nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(a.stdout)
			for _, o := range orders {
				if err := enc.Encode(o); err != nil {
					return err
				}
			}
			return nil
		}
		printOrders(a.stdout, orders, unreadable)
		return nil
	}}
}

func printOrders(w io.Writer, orders []production.OrderSummary, unreadable []production.UnreadableMessage) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ORDER\tSTATE\tTYPE\tCARDS\tDISPATCH BY\tCOMPANY")
	var rejected []production.OrderSummary
	for _, o := range orders {
		due := "-"
		if o.DispatchBy != nil {
			due = o.DispatchBy.Format("Mon 2006-01-02")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", o.ID, o.State, dash(o.CardType), o.Cards, due, dash(o.CompanyName))
		if len(o.Problems) > 0 {
			rejected = append(rejected, o)
		}
	}
	tw.Flush()
	if len(rejected) > 0 {
		fmt.Fprintf(w, "\nrejected orders and why (%d):\n", len(rejected))
		for _, o := range rejected {
			fmt.Fprintf(w, "  %s\n", o.ID)
			for _, p := range o.Problems {
				fmt.Fprintf(w, "    ✗ %s: %s (%s)\n", p.Field, p.Message, p.Rule)
			}
		}
	}
	if len(unreadable) > 0 {
		fmt.Fprintf(w, "\nmessages that named no order (%d):\n", len(unreadable))
		for _, u := range unreadable {
			fmt.Fprintf(w, "  message %s, %d bytes, received %s\n", u.MessageUUID, u.SizeBytes, u.ReceivedAt.Format(time.RFC3339))
			for _, p := range u.Problems {
				fmt.Fprintf(w, "    ✗ %s: %s (%s)\n", p.Field, p.Message, p.Rule)
			}
		}
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
