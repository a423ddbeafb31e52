// Package webhook is backupd's webhook layer. Inbound: the Receiver checks
// a report's Standard Webhooks signature, parses it and hands it to the
// Intake, which commits the reports of many concurrent senders in one
// transaction (group commit) before any of them is acknowledged. Outbound:
// the Dispatcher turns catalog events into durable deliveries and sends
// them, signed with the same scheme, retrying with backoff.
//
// docs/webhooks.md describes the behaviour for senders and receivers.
package webhook
