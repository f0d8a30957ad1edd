package main

import (
	"context"
	"fmt"
	"time"

	"cardline/printer"
	"cardline/production"
)

// storedFace looks a card up in the store and makes the face the printer prints. A card not yet
// in production has no expiry: its preview shows the expiry it would get if production started
// now (production.ExpiryFor), which is what the station will set.
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
	if len(c.Photo.JPEG) == 0 {
		return nil, fmt.Errorf("card %s: its photo is gone (deleted after dispatch)", n)
	}
	photo, err := c.Photo.Decode()
	if err != nil {
		return nil, fmt.Errorf("card %s: %w", n, err)
	}
	expiry := c.Expiry
	if expiry.IsZero() {
		cal, err := production.NewBusinessDays()
		if err != nil {
			return nil, err
		}
		expiry = production.ExpiryFor(time.Now(), cal.Zone())
	}
	return &printer.Face{
		CardType:   printer.CardType(o.CardType),
		GivenName:  c.Holder.GivenName,
		FamilyName: c.Holder.FamilyName,
		BirthDate:  c.Holder.BirthDate,
		Expiry:     expiry,
		OrgNumber:  o.OrgNumber,
		OrgName:    o.CompanyName,
		CardNumber: string(c.Number),
		Photo:      photo,
	}, nil
}
