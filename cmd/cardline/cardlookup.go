package main

import (
	"context"

	"cardline/printer"
	"cardline/production"
)

// storedFace looks a card up in the store and makes the face the printer prints
// (production.CardFace, the one the stations print).
func storedFace(ctx context.Context, cfg *config, number string) (*printer.Face, error) {
	n, err := production.ParseCardNumber(number)
	if err != nil {
		return nil, err
	}
	pool, err := openPool(ctx, cfg.databaseURL)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	c, o, err := production.NewStore(pool).Card(ctx, n)
	if err != nil {
		return nil, err
	}
	return production.CardFace(c, o)
}
