package main

import (
	"context"
)

func serveCommand() command {
	return command{name: "serve", summary: "run the line: consume approved orders and drive every stage", run: func(ctx context.Context, a *app, args []string) error {
		var cfg config
		fs := newFlags(a, "cardline serve", "", "Runs the service until interrupted: migrates the database, then consumes "+
			"hms.orders.approved.v1 and publishes what happens to each order; the clock plans print batches, sweeps deadlines and "+
			"erases personal data past retention (once across instances); /metrics and /healthz on --http-addr.")
		cfg.serviceFlags(fs)
		var clock clockConfig
		clock.flags(fs)
		if err := fs.Parse(args); err != nil {
			return err
		}
		if _, err := cfg.holderSecret(); err != nil {
			return err
		}
		if _, err := cfg.qrSigningKey(); err != nil {
			return err
		}
		svc, err := openService(ctx, cfg, a.log)
		if err != nil {
			return err
		}
		defer svc.close()
		stopClock, err := svc.startClock(ctx, clock)
		if err != nil {
			return err
		}
		defer stopClock()
		return svc.run(ctx)
	}}
}
