package production

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/OpenPrinting/goipp"

	"cardline/encoder"
	"cardline/printer"
)

// TestLoadInstantStationRefuses checks that the load harness's instant parts refuse what the real
// ones would, and make a chip whose record reads back signed.
func TestLoadInstantStationRefuses(t *testing.T) {
	ctx := context.Background()
	s, err := NewInstantStation(1, encoder.DevKeys())
	if err != nil {
		t.Fatal(err)
	}
	rec := encoder.Record{GivenName: "Kari", FamilyName: "Nordmann", BirthDate: time.Date(1990, 5, 17, 0, 0, 0, 0, time.UTC),
		Gender: "F", OrgNumber: "923609016", OrgName: "Bygg og Rør AS", CardNumber: "1000000018",
		Expiry: time.Date(2028, 11, 30, 0, 0, 0, 0, time.UTC), CardType: "construction"}
	if _, err := s.Encode(ctx, rec, encoder.EncodeOptions{}); !errors.Is(err, encoder.ErrReaderGone) {
		t.Errorf("encode with no card at the coupler: %v", err)
	}
	if err := s.EjectReject(ctx); err == nil {
		t.Error("eject with no card at the coupler accepted")
	}
	if err := s.FeedBlank(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.FeedBlank(ctx); err == nil {
		t.Error("second blank fed onto the first")
	}
	if err := s.EjectOutput(ctx); err == nil {
		t.Error("blank ejected to the output")
	}
	res, err := s.Encode(ctx, rec, encoder.EncodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.UID) != 7 {
		t.Errorf("UID %X", res.UID)
	}
	other := rec
	other.CardNumber = "1000000026"
	if _, err := s.Encode(ctx, other, encoder.EncodeOptions{}); !errors.Is(err, encoder.ErrAlreadyEncoded) {
		t.Errorf("second card number on one chip: %v", err)
	}
	st, _ := s.Status(ctx)
	face := printer.NewFace()
	doc, err := printer.CardDocument(st, printer.CardJob{CardNumber: "1000000026", Front: face, Back: face})
	if err != nil {
		t.Fatal(err)
	}
	var se *printer.StatusError
	if _, err := s.Submit(ctx, doc); !errors.As(err, &se) {
		t.Errorf("job for another card accepted: %v", err)
	}
	doc.Name = rec.CardNumber
	id, err := s.Submit(ctx, doc)
	if err != nil {
		t.Fatal(err)
	}
	if j, err := s.Watch(ctx, id, nil); err != nil || j.State != "completed" {
		t.Errorf("job %d: %+v, %v", id, j, err)
	}
	if _, err := s.JobState(ctx, id+1); !errors.As(err, &se) || se.Status != goipp.StatusErrorNotFound {
		t.Errorf("unknown job: %v", err)
	}
	if err := s.EjectOutput(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.WaitForRemoval(ctx); err != nil || s.Produced != 1 {
		t.Errorf("after eject: %v, %d produced", err, s.Produced)
	}
}
