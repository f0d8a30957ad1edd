// Package production is the first stage of the line and its backbone: approved card orders
// arrive as OrderApproved messages and become stored orders and cards (or stored rejections with
// every reason), card numbers are allocated, dispatch deadlines computed, and every change of state
// is checked against one transition table and written to an append-only audit log.
//
// The rules of the scheme live here as plain Go: organisation numbers and national ids (identity.go),
// names (names.go), photos (photo.go), card numbers (cardnumber.go), Norwegian business days and the
// dispatch deadline (businessday.go), states (state.go), and the whole order (validate.go). The
// adapters to the outside are postgres.go (the store) and intake.go (the watermill handler).
package production
