package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"cardline/encoder"
	"cardline/internal/testsupport"
)

func runChip(t *testing.T, ctx context.Context, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	a := &app{stdout: &out, stderr: &out, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	err := dispatch(ctx, a, "cardline", []command{chipCommand()}, append([]string{"chip"}, args...))
	return out.String(), err
}

// An encoded card read back through the binary's own command, as an access system reads it.
func TestChipReadThroughPCSCD(t *testing.T) {
	d := testsupport.SharedPCSCD(t)
	t.Setenv(envChipSigningKey, "")
	t.Setenv(envChipMasterKey, "")
	t.Setenv(envChipReadKey, "")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	slot := encoder.NewVirtualReader(d.VPCDAddr(1), nil)
	defer slot.Remove()
	// Keys as production configures them: hex in the environment.
	const signHex, masterHex, readHex = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
		"000102030405060708090a0b0c0d0e0f", "a1b2c3d4e5f6"
	keys, err := encoder.ParseKeys(signHex, masterHex, readHex)
	if err != nil {
		t.Fatal(err)
	}
	st, err := encoder.NewStation(encoder.VirtualReader1, keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	slot.InsertBlank(encoder.Faults{})
	rec := encoder.Record{GivenName: "Åsmund", FamilyName: "Strømsø-Łęcka", BirthDate: time.Date(1979, 12, 31, 0, 0, 0, 0, time.UTC),
		Gender: "X", OrgNumber: "923609016", OrgName: "Bygg og Rør AS", CardNumber: "1000000017",
		Expiry: time.Date(2028, 1, 2, 0, 0, 0, 0, time.UTC), CardType: "transport"}
	res, err := st.Encode(ctx, rec, encoder.EncodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := runChip(t, ctx, "readers")
	if err != nil || !strings.Contains(out, encoder.VirtualReader1) {
		t.Fatalf("readers: %v\n%s", err, out)
	}
	if _, err := runChip(t, ctx, "read", "--reader", encoder.VirtualReader1); err == nil || !strings.Contains(err.Error(), "--dev-keys") {
		t.Fatalf("read without keys: %v", err)
	}
	// The development keys open the card (same reader, other keys) but do not verify it.
	if _, err := runChip(t, ctx, "read", "--reader", encoder.VirtualReader1, "--dev-keys"); err == nil {
		t.Fatal("read with the development keys verified a card made with other keys")
	}
	t.Setenv(envChipSigningKey, signHex)
	t.Setenv(envChipMasterKey, masterHex)
	t.Setenv(envChipReadKey, readHex)
	out, err = runChip(t, ctx, "read", "--reader", encoder.VirtualReader1)
	if err != nil {
		t.Fatalf("read: %v\n%s", err, out)
	}
	for _, want := range []string{"signature     valid", "1000000017", "Strømsø-Łęcka", "transport", "1979-12-31", strings.ToUpper(encoderHex(res.UID))} {
		if !strings.Contains(out, want) {
			t.Errorf("chip read output lacks %q:\n%s", want, out)
		}
	}
	// An access system that holds another public key rejects the card.
	t.Setenv(envChipPublicKey, "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c")
	if _, err := runChip(t, ctx, "read", "--reader", encoder.VirtualReader1); err == nil || !strings.Contains(err.Error(), "signature") {
		t.Fatalf("read with a foreign public key: %v", err)
	}
	out, err = runChip(t, ctx, "stripe", "--org", "923609016", "--card", "1000000017")
	if err != nil || !strings.Contains(out, ";1000000017=923609016?") {
		t.Fatalf("stripe: %v\n%s", err, out)
	}
}

func encoderHex(b []byte) string {
	const digits = "0123456789ABCDEF"
	var s strings.Builder
	for _, x := range b {
		s.WriteByte(digits[x>>4])
		s.WriteByte(digits[x&15])
	}
	return s.String()
}

func TestChipHelp(t *testing.T) {
	for _, sub := range chipCommand().subs {
		out, err := runChip(t, context.Background(), sub.name, "--help")
		if err == nil || !strings.Contains(out, "usage: cardline chip "+sub.name) {
			t.Errorf("chip %s --help: %v\n%s", sub.name, err, out)
		}
	}
}
