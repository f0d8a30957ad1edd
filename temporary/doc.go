// Package temporary is the stage of the line that gives an orderer something to work with before
// the plastic arrives: for every accepted order, one mail to the orderer with a PDF temporary HSE
// card per card (card.go, pdf.go), composed in Norwegian and English (mail.go) and sent over SMTP
// (smtp.go) exactly once per order, even across crashes and redelivered events.
//
// Exactly once rests on the mail outbox in Postgres (postgres.go, migration 002): the OrderAccepted
// handler only records a job, keyed by order id, in the subscriber's transaction; the worker
// (mailer.go) claims due jobs with a lease, renders and sends outside any transaction, and records
// the outcome with the event that reports it. Every attempt of a job sends the same Message-ID.
package temporary
