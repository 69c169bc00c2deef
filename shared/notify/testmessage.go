package notify

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"
)

// TestMessage is the message `alert -test-notification` publishes: clearly
// a test, severity critical so that it passes the SMS subscription's filter
// too, naming the deployment and the time it was sent. Its id is derived
// from both, so two tests are told apart.
func TestMessage(deployment string, at time.Time) Message {
	sum := sha256.Sum256([]byte(fmt.Sprintf("test-notification;%s;%d", deployment, at.UnixNano())))
	return Message{
		ID:       hex.EncodeToString(sum[:16]),
		Test:     true,
		Status:   StatusFiring,
		Rule:     "SigmawatchTestNotification",
		Group:    deployment,
		Severity: "critical",
		At:       at.UTC(),
	}
}

func testEmail(m Message) string {
	return fmt.Sprintf(`TEST: sigmawatch notification test

This is a test sent with `+"`alert -test-notification`"+` from the sigmawatch
deployment %q at %s. Nothing is wrong.

If this reached you by email, the email subscription works. The same test
went out with severity=critical, so the SMS subscription received it too;
if a phone that should have got it did not, see the README's SMS steps
(sandbox, spending limit, origination identity, delivery-status logs).

Notification ID: %s
`, m.Group, m.At.Format(time.RFC3339), m.ID)
}

func testSMS(m Message) string {
	id := m.ID[:min(8, len(m.ID))]
	return truncate(ascii(fmt.Sprintf("TEST sigmawatch %s: critical alerts reach this phone. Nothing is wrong.", m.Group)), MaxSMS-len(id)-4) + " id:" + id
}
