package main

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"cardline/encoder"
)

// Environment variables that carry the chip keys (hex). They are never printed or logged.
const (
	envChipSigningKey = "CARDLINE_CHIP_SIGNING_KEY" // Ed25519: 32-byte seed or 64-byte private key
	envChipMasterKey  = "CARDLINE_CHIP_MASTER_KEY"  // AES-128 master key for the per-card key B
	envChipReadKey    = "CARDLINE_CHIP_READ_KEY"    // 6-byte key A of the data sectors
	envChipPublicKey  = "CARDLINE_CHIP_PUBLIC_KEY"  // Ed25519 public key, for readers without the signing key
	envChipReader     = "CARDLINE_CHIP_READER"      // PC/SC reader name
)

const chipKeysHelp = "keys come from " + envChipSigningKey + ", " + envChipMasterKey + " and " + envChipReadKey +
	" (hex); --dev-keys uses the public DEVELOPMENT keys, only when those are unset"

func chipCommand() command {
	return command{name: "chip", summary: "read and verify chips (industry coding), list readers, magnetic-stripe tracks", subs: []command{
		{name: "readers", summary: "list the PC/SC readers pcscd knows", run: chipReaders},
		{name: "read", summary: "read a card's industry coding and verify it, as an access system would", run: chipRead},
		{name: "stripe", summary: "print the magnetic-stripe tracks for an organisation and card number", run: chipStripe},
	}}
}

// loadChipKeys returns the encoder keys from the environment, or the development keys when the
// environment has none and dev is set.
func loadChipKeys(dev bool) (encoder.Keys, error) {
	sign, master, read := os.Getenv(envChipSigningKey), os.Getenv(envChipMasterKey), os.Getenv(envChipReadKey)
	if sign == "" && master == "" && read == "" {
		if dev {
			return encoder.DevKeys(), nil
		}
		return encoder.Keys{}, fmt.Errorf("chip keys: set %s, %s and %s (hex), or pass --dev-keys for the demo", envChipSigningKey, envChipMasterKey, envChipReadKey)
	}
	k, err := encoder.ParseKeys(sign, master, read)
	if err != nil {
		return encoder.Keys{}, fmt.Errorf("chip keys from environment: %w", err)
	}
	return k, nil
}

// loadChipVerifier returns what a field reader needs: the read key and the public key. An access
// system has only CARDLINE_CHIP_READ_KEY and CARDLINE_CHIP_PUBLIC_KEY.
func loadChipVerifier(dev bool) (encoder.Verifier, error) {
	read, pub := os.Getenv(envChipReadKey), os.Getenv(envChipPublicKey)
	if read != "" && pub != "" {
		rk, err := encoder.ParseKey(read)
		if err != nil {
			return encoder.Verifier{}, fmt.Errorf("%s: %w", envChipReadKey, err)
		}
		pk, err := hex.DecodeString(strings.TrimSpace(pub))
		if err != nil || len(pk) != ed25519.PublicKeySize {
			return encoder.Verifier{}, fmt.Errorf("%s: want 32 bytes of hex", envChipPublicKey)
		}
		return encoder.Verifier{ReadKey: rk, PublicKeys: map[byte]ed25519.PublicKey{1: pk}}, nil
	}
	k, err := loadChipKeys(dev)
	if err != nil {
		return encoder.Verifier{}, err
	}
	return k.Verifier(), nil
}

func chipReaders(ctx context.Context, a *app, args []string) error {
	fs := newFlags(a, "cardline chip readers", "", "Lists the PC/SC readers that pcscd knows (PCSCLITE_CSOCK_NAME picks a private pcscd).")
	if err := fs.Parse(args); err != nil {
		return err
	}
	rs, err := encoder.ListReaders(ctx)
	if err != nil {
		return err
	}
	if len(rs) == 0 {
		fmt.Fprintln(a.stdout, "no readers")
	}
	for _, r := range rs {
		fmt.Fprintln(a.stdout, r)
	}
	return nil
}

func chipRead(ctx context.Context, a *app, args []string) error {
	fs := newFlags(a, "cardline chip read", "", "Waits for a card in the reader, reads its industry coding with the read key "+
		"and verifies the signature with the public key, as an access system would. "+envChipReadKey+" and "+envChipPublicKey+
		" (hex) give the keys; without them the encoder keys ("+chipKeysHelp+").")
	reader := fs.String("reader", envOr(envChipReader, ""), "PC/SC reader name (env "+envChipReader+"; default: the first reader)")
	timeout := fs.Duration("timeout", 30*time.Second, "how long to wait for a card")
	dev := fs.Bool("dev-keys", false, "use the public DEVELOPMENT keys when no key is configured (demo only)")
	asJSON := fs.Bool("json", false, "print the record as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("chip read: unexpected argument %q: %w", fs.Arg(0), flag.ErrHelp)
	}
	v, err := loadChipVerifier(*dev)
	if err != nil {
		return err
	}
	if *reader == "" {
		rs, err := encoder.ListReaders(ctx)
		if err != nil {
			return err
		}
		if len(rs) == 0 {
			return fmt.Errorf("chip read: %w: no reader connected", encoder.ErrReaderGone)
		}
		*reader = rs[0]
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	res, err := encoder.ReadCard(ctx, *reader, v)
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("chip read: no card in %q within %s", *reader, *timeout)
	}
	if err != nil {
		return err
	}
	r := res.Record
	if *asJSON {
		return json.NewEncoder(a.stdout).Encode(map[string]any{
			"uid": fmt.Sprintf("%X", res.UID), "verified": r.Verified, "format_version": r.Version, "key_id": r.KeyID,
			"card_number": r.CardNumber, "given_name": r.GivenName, "family_name": r.FamilyName,
			"birth_date": r.BirthDate.Format(time.DateOnly), "gender": r.Gender, "org_number": r.OrgNumber,
			"org_name": r.OrgName, "expiry": r.Expiry.Format(time.DateOnly), "card_type": r.CardType,
		})
	}
	fmt.Fprintf(a.stdout, "chip UID      %X\nsignature     valid (key id %d, format v%d): genuine, unedited card\n", res.UID, r.KeyID, r.Version)
	fmt.Fprintf(a.stdout, "card number   %s\ncard type     %s\nexpires       %s\n", r.CardNumber, r.CardType, r.Expiry.Format(time.DateOnly))
	fmt.Fprintf(a.stdout, "holder        %s %s (%s, born %s)\n", r.GivenName, r.FamilyName, r.Gender, r.BirthDate.Format(time.DateOnly))
	fmt.Fprintf(a.stdout, "employer      %s (org. no. %s)\n", r.OrgName, r.OrgNumber)
	return nil
}

func chipStripe(ctx context.Context, a *app, args []string) error {
	fs := newFlags(a, "cardline chip stripe", "", "Prints the magnetic-stripe tracks (ISO/IEC 7811 tracks 1 and 2, sentinels and LRC included) for a card.")
	org := fs.String("org", "", "organisation number (9 digits)")
	card := fs.String("card", "", "card number (10 digits)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	t, err := encoder.EncodeStripe(encoder.Stripe{OrgNumber: *org, CardNumber: *card})
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "track 1  %s\ntrack 2  %s\n", t.Track1, t.Track2)
	return nil
}
