package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"cardline/internal/bus"
	"cardline/production"
)

func submitCommand() command {
	return command{name: "submit", summary: "publish order messages from JSON files onto the input topic", run: func(ctx context.Context, a *app, args []string) error {
		var cfg config
		fs := newFlags(a, "cardline submit", "FILE...", "Publishes each file (or - for standard input) as one OrderApproved message on "+
			production.TopicOrdersApproved+", byte for byte: intake validates it, not this command.")
		cfg.dbFlags(fs)
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			fs.Usage()
			return fmt.Errorf("submit: at least one FILE is required")
		}
		pool, err := openPool(ctx, cfg.databaseURL)
		if err != nil {
			return err
		}
		defer pool.Close()
		b := bus.New(pool, a.log, bus.Options{})
		if err := b.InitTopics(ctx, production.IntakeConsumerGroup, production.TopicOrdersApproved); err != nil {
			return err
		}
		for _, f := range fs.Args() {
			payload, err := readInput(f)
			if err != nil {
				return err
			}
			uuid, err := submit(ctx, b, payload)
			if err != nil {
				return fmt.Errorf("submit %s: %w", f, err)
			}
			fmt.Fprintf(a.stdout, "%s\t%s\n", uuid, f)
		}
		return nil
	}}
}

func submit(ctx context.Context, b *bus.Bus, payload []byte) (string, error) {
	m := message.NewMessage(watermill.NewUUID(), payload)
	if err := b.Publish(ctx, production.TopicOrdersApproved, m); err != nil {
		return "", err
	}
	return m.UUID, nil
}

func readInput(name string) ([]byte, error) {
	if name == "-" {
		b, err := io.ReadAll(io.LimitReader(os.Stdin, production.MaxMessageBytes+1))
		if err != nil {
			return nil, fmt.Errorf("read standard input: %w", err)
		}
		return b, nil
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("read order file: %w", err)
	}
	return b, nil
}
