// Package shipping is the last stage of the line: it packs what production has made so that every
// order leaves within its deadline. Each card goes in its own envelope to the order's delivery
// address; an order's accessories (card holders) go in one parcel of their own. Envelopes and
// parcels due at the next post pickup form one batch, sorted by postal code; each gets a label
// (PDF on 4 × 6 in pages or four to an A4 sheet, and ZPL for Zebra label printers) whose Code 128
// id ties it to the card inside, and the batch gets a manifest for the post (PDF and CSV). At
// packing, the envelope's barcode and the card's QR code or chip UID must name the same card.
//
// The domain (plan, ids, matching, layout, letters) is pure: it does no I/O but to the io.Writer
// it is given. The adapters to the outside are ipp.go, which prints labels through the printer
// package's IPP client on a label queue, and postgres.go, the Store. The store reads production's
// orders and cards and maps them onto OrderToShip; it records batches, envelopes and parcels in
// its own tables (production/migrations/003_shipping.sql) and changes card and order states only
// through production.TransitionCard and TransitionOrder, with their audit entries; it publishes
// OrderDispatched in the dispatch transaction. Production never imports shipping: intake applies
// the label rule for addresses (Address.Validate) through production.Validator.AddressRule, wired
// in cmd/cardline. The Norwegian business-day calendar (production.BusinessDays) comes in through
// Schedule.IsBusinessDay; reading a card's QR code (printer.VerifyStatusURL) through
// CardIdentifier.
//
// The life of an envelope: planned (ship plan: its id and label made) → packed (ship scan: the
// card's QR code matched its barcode) → dispatched (ship dispatch: the batch handed to the post).
// A card spoiled or blocked after its label was made voids the envelope at the next plan; the
// remade card gets the next label sequence, so the old label can never pass for it.
//
// Files: address.go (the label rule for addresses), ids.go (envelope, parcel and batch ids),
// plan.go (the packing plan, the partial-order rule, pickups), match.go (envelope matching),
// label.go (label layout), manifest.go, letter.go (the carrier letter), and the adapters pdf.go,
// zpl.go, csv.go, ipp.go, postgres.go.
//
// TODO (issue 7, stations): packing by chip UID. The stations' records of which chip went on
// which card do not exist yet; until they do, `cardline ship scan` accepts the card's QR code only
// and refuses a UID with that reason.
package shipping
