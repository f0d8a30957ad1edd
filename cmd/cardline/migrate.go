package main

import (
	"context"
	"fmt"

	"cardline/production"
)

func migrateCommand() command {
	return command{name: "migrate", summary: "apply the database migrations (serve does it too)", run: func(ctx context.Context, a *app, args []string) error {
		var cfg config
		fs := newFlags(a, "cardline migrate", "", "Applies the numbered SQL migrations embedded in the binary that the database lacks.")
		cfg.dbFlags(fs)
		if err := fs.Parse(args); err != nil {
			return err
		}
		pool, err := openPool(ctx, cfg.databaseURL)
		if err != nil {
			return err
		}
		defer pool.Close()
		applied, err := production.Migrate(ctx, pool)
		if err != nil {
			return err
		}
		if len(applied) == 0 {
			fmt.Fprintln(a.stdout, "database is up to date")
		}
		for _, v := range applied {
			fmt.Fprintf(a.stdout, "applied migration %03d\n", v)
		}
		return nil
	}}
}
