package hub

import (
	"fmt"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/backupd/backupd/internal/domain"
)

// TestProtocol1 plays the original exchange message for message.
func TestProtocol1(t *testing.T) {
	th := newTestHub(t, Options{})
	alice := dial(t, th.url, nil)
	aliceID := alice.greeted()
	bob := dial(t, th.url, nil)
	bobID := bob.greeted()

	// The original client keys register and ping with "event".
	alice.send(`{"event":"register","socket_data":"alice"}`)
	added := fmt.Sprintf(`{"eventType":"socket_added","socket_data":{"id":%q,"socket_data":"alice"}}`, aliceID)
	alice.expect(added)
	bob.expect(added)
	bob.send(`{"eventType":"register","socket_data":{"name":"bob","v":1}}`)
	added = fmt.Sprintf(`{"eventType":"socket_added","socket_data":{"id":%q,"socket_data":{"name":"bob","v":1}}}`, bobID)
	alice.expect(added)
	bob.expect(added)

	alice.send(`{"event":"ping"}`)
	alice.expect(`{"eventType":"pong"}`)
	bob.send(`{"eventType":"ping"}`)
	bob.expect(`{"eventType":"pong"}`)

	th.publish(domain.EventBackupSucceeded, "db", []byte(`{"id":3,"status":"succeeded"}`))
	backup := `{"eventType":"backup","id":1,"type":"backup.succeeded","socket_data":{"id":3,"status":"succeeded"}}`
	alice.expect(backup)
	bob.expect(backup)

	bob.send(`{"eventType":"message","socket_data":"hello all"}`)
	msg := fmt.Sprintf(`{"eventType":"message","socket_data":{"id":%q,"text":"hello all"}}`, bobID)
	alice.expect(msg)
	bob.expect(msg)

	alice.send(`{"event":"disconnect"}`)
	gone := fmt.Sprintf(`{"eventType":"socket_disconnect","socket_data":{"id":%q}}`, aliceID)
	alice.expect(gone)
	alice.expectClose(websocket.CloseNormalClosure)
	bob.expect(gone)

	// Bob is still served after Alice left.
	bob.send(`{"event":"ping"}`)
	bob.expect(`{"eventType":"pong"}`)
}

// TestProtocol1DroppedPeerIsAnnounced checks that a client that goes away
// without a disconnect message is announced once to the others.
func TestProtocol1DroppedPeerIsAnnounced(t *testing.T) {
	th := newTestHub(t, Options{})
	stay := dial(t, th.url, nil)
	stay.greeted()
	drop := dial(t, th.url, nil)
	dropID := drop.greeted()
	drop.Close()
	stay.expect(fmt.Sprintf(`{"eventType":"socket_disconnect","socket_data":{"id":%q}}`, dropID))
	stay.send(`{"event":"ping"}`)
	stay.expect(`{"eventType":"pong"}`)
}

// TestHelloProtocol1 lets a client say explicitly that it speaks 1.
func TestHelloProtocol1(t *testing.T) {
	th := newTestHub(t, Options{})
	th.publish(domain.EventBackupQueued, "db", nil)
	c := dial(t, th.url, nil)
	id := c.greeted()
	c.send(`{"eventType":"hello","protocol":1}`)
	c.expect(fmt.Sprintf(`{"eventType":"welcome","protocol":1,"client_id":%q,"head":1}`, id))
	th.publish(domain.EventBackupStarted, "db", nil)
	c.expect(`{"eventType":"backup","id":2,"type":"backup.started","socket_data":null}`)
}
