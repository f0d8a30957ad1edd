// Package shipping is the last stage of the line: it packs what production has made so that every
// order leaves within its deadline. Each card goes in its own envelope to the order's delivery
// address; an order's accessories (card holders) go in one parcel of their own. Envelopes and
// parcels due at the next post pickup form one batch, sorted by postal code; each gets a label
// (PDF on 4 × 6 in pages or four to an A4 sheet, and ZPL for Zebra label printers) whose Code 128
// id ties it to the card inside, and the batch gets a manifest for the post (PDF and CSV). At
// packing, the envelope's barcode and the card's QR code or chip UID must name the same card.
//
// The domain (plan, ids, matching, layout) is pure: it does no I/O but to the io.Writer it is
// given. The one adapter to the outside is ipp.go, which prints labels through the printer
// package's IPP client on a label queue. Shipping does not import production: the store maps its
// orders onto OrderToShip; the Norwegian business-day calendar (production.BusinessDays) comes in
// through Schedule.IsBusinessDay; reading a card's QR code (printer.VerifyStatusURL) or chip UID
// (the store's chip records) comes in through CardIdentifier.
//
// Files: address.go (the label rule for addresses), ids.go (envelope, parcel and batch ids),
// plan.go (the packing plan, the partial-order rule, pickups), match.go (envelope matching),
// label.go (label layout), manifest.go, and the adapters pdf.go, zpl.go, csv.go, ipp.go.
//
// TODO (second round, after the production store):
//   - plan from the store, recording envelopes, parcels and batches (and voided labels, which
//     raise a card's label sequence);
//   - `cardline ship plan | labels BATCH -o labels.pdf / --zpl | manifest BATCH | scan ENVELOPE
//     CARDQR | dispatch BATCH`;
//   - scan recording an envelope as packed (MatchEnvelope with printer.VerifyStatusURL and the
//     chip records); dispatch: envelopes and cards dispatched, OrderDispatched upstream with the
//     envelope ids, deadline met or not per order (Envelope.Late);
//   - the carrier letter that goes in each envelope with the card.
package shipping
