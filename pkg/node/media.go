package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"path"
	"time"
)

// Media is a node's virtual CD: an image (an ISO on an HTTP server) that
// the boot endpoint serves to the machine when its boot override is CD. It
// is persisted with the node's state, as a BMC keeps its virtual media
// until it is ejected.
type Media struct {
	// Image is the image's URL (http or https); empty when none is attached.
	Image string `json:"image,omitempty"`
	// Inserted is true when the image is in the drive: a CD override boots
	// it. An image may be attached but not inserted.
	Inserted bool `json:"inserted,omitempty"`
	// UserName and Password authenticate to the image's server (HTTP basic).
	UserName string `json:"user_name,omitempty"`
	Password string `json:"password,omitempty"`
	// Size is the image's size in bytes, learned when it was checked.
	Size int64 `json:"size,omitempty"`
	// ID is new on every insertion. The image's URL on the boot endpoint
	// carries it, so that the URL of an ejected image serves nothing.
	ID string `json:"id,omitempty"`
	// InsertedAt and By say when and by whom it was attached.
	InsertedAt time.Time  `json:"inserted_at,omitzero"`
	By         *Requester `json:"by,omitempty"`
}

// Attached reports whether an image is attached (inserted or not).
func (m Media) Attached() bool { return m.Image != "" }

// ImageName is the last element of the image's URL path ("" when none).
func (m Media) ImageName() string {
	u, err := url.Parse(m.Image)
	if err != nil || u.Path == "" || u.Path == "/" {
		return ""
	}
	return path.Base(u.Path)
}

// MediaChecker checks, before an image is inserted, that it can be served
// to the machine: that its server answers, has it, and supports the HTTP
// Range requests iPXE's sanboot reads it with. It returns the image's size.
type MediaChecker interface {
	CheckMedia(ctx context.Context, m Media) (size int64, err error)
}

// MediaProblem says why an image cannot be served.
type MediaProblem int

// Media problems.
const (
	// MediaUnreachable: no connection to the image's server, or no answer in time.
	MediaUnreachable MediaProblem = iota + 1
	// MediaNotFound: the server does not have the image (404, 410).
	MediaNotFound
	// MediaUnauthorized: the server refused the credentials (401, 403).
	MediaUnauthorized
	// MediaNoRanges: the server does not answer Range requests, which
	// iPXE's sanboot reads the image with.
	MediaNoRanges
	// MediaBadURL: the URL is not an http or https URL.
	MediaBadURL
	// MediaFailed: any other failure (an unexpected answer).
	MediaFailed
)

// MediaError is an image that cannot be served, and why.
type MediaError struct {
	Problem MediaProblem
	Image   string
	Err     error
}

// Error names the image and the problem.
func (e *MediaError) Error() string { return fmt.Sprintf("image %s: %v", e.Image, e.Err) }

// Unwrap returns the underlying error.
func (e *MediaError) Unwrap() error { return e.Err }

// ErrNoVirtualMedia means the node has no virtual media: there is no boot
// endpoint to serve an image to its machine.
var ErrNoVirtualMedia = errors.New("no virtual media: the boot endpoint is off (set boot.listen), so nothing could serve the image to the machine")

// HasVirtualMedia reports whether the node has a virtual CD.
func (n *Node) HasVirtualMedia() bool { return n.cfg.Boot.Media != nil }

// Media returns the node's virtual CD.
func (n *Node) Media() Media {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.mediaLocked()
}

func (n *Node) mediaLocked() Media {
	if n.state.Media == nil {
		return Media{}
	}
	return *n.state.Media
}

// InsertMedia attaches m.Image (inserted or not, as m.Inserted says) after
// checking that it can be served; a check that fails changes nothing and
// returns a *MediaError. An attached image is replaced. ctx carries the
// requester.
func (n *Node) InsertMedia(ctx context.Context, m Media) error {
	if n.cfg.Boot.Media == nil {
		return fmt.Errorf("node %s: %w", n.cfg.Name, ErrNoVirtualMedia)
	}
	size, err := n.cfg.Boot.Media.CheckMedia(ctx, m)
	if err != nil {
		return fmt.Errorf("node %s: virtual media: %w", n.cfg.Name, err)
	}
	by := RequesterFrom(ctx)
	m.Size, m.ID, m.InsertedAt, m.By = size, newMediaID(), time.Now(), &by
	n.mu.Lock()
	prev := n.mediaLocked()
	n.state.Media = &m
	n.mediaErrID = ""
	n.mu.Unlock()
	if err := n.persist(); err != nil {
		return err
	}
	attrs := append([]any{"image", m.Image, "inserted", m.Inserted, "size", m.Size}, by.logAttrs()...)
	n.log.Info("virtual media inserted", attrs...)
	if prev.Attached() {
		n.record(mediaEvent(EventMediaEjected, prev, by, "replaced by "+m.Image))
	}
	n.record(mediaEvent(EventMediaInserted, m, by, ""))
	return nil
}

// SetMediaInserted moves an attached image in or out of the drive without
// detaching it (Redfish's Inserted property alone). ctx carries the requester.
func (n *Node) SetMediaInserted(ctx context.Context, inserted bool) error {
	n.mu.Lock()
	if n.state.Media == nil || n.state.Media.Inserted == inserted {
		n.mu.Unlock()
		return nil
	}
	m := *n.state.Media
	m.Inserted = inserted
	n.state.Media = &m
	n.mu.Unlock()
	if err := n.persist(); err != nil {
		return err
	}
	by := RequesterFrom(ctx)
	kind, verb := EventMediaInserted, "inserted"
	if !inserted {
		kind, verb = EventMediaEjected, "ejected"
	}
	n.log.Info("virtual media "+verb+" (still attached)", append([]any{"image", m.Image}, by.logAttrs()...)...)
	n.record(mediaEvent(kind, m, by, "still attached"))
	return nil
}

// EjectMedia detaches the virtual CD's image; ejecting an empty drive does
// nothing. ctx carries the requester.
func (n *Node) EjectMedia(ctx context.Context) error {
	n.mu.Lock()
	prev := n.mediaLocked()
	n.state.Media = nil
	n.mu.Unlock()
	if !prev.Attached() {
		return nil
	}
	if err := n.persist(); err != nil {
		return err
	}
	by := RequesterFrom(ctx)
	n.log.Info("virtual media ejected", append([]any{"image", prev.Image}, by.logAttrs()...)...)
	n.record(mediaEvent(EventMediaEjected, prev, by, ""))
	return nil
}

// MediaServeFailed records that the image inserted as id could not be
// served to the machine (its server failed at boot time): once per
// insertion until it is served again, so that a failing boot is one clear
// event rather than one per block the firmware asked for.
func (n *Node) MediaServeFailed(id string, err error) {
	n.mu.Lock()
	m := n.mediaLocked()
	first := m.ID == id && n.mediaErrID != id
	if first {
		n.mediaErrID = id
	}
	n.mu.Unlock()
	if !first {
		return
	}
	n.log.Error("virtual media image could not be served to the machine", "image", m.Image, "err", err)
	n.record(Event{Kind: EventMediaFailed, Severity: SeverityCritical, Error: err.Error(),
		Message: fmt.Sprintf("The virtual CD's image %s could not be served to the machine, which cannot boot it: %v", m.Image, err)})
}

// MediaServed records that the image inserted as id was served again
// after a failure.
func (n *Node) MediaServed(id string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.mediaErrID == id {
		n.mediaErrID = ""
	}
}

func newMediaID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func mediaEvent(kind EventKind, m Media, by Requester, note string) Event {
	var msg string
	switch kind {
	case EventMediaInserted:
		msg = "Virtual CD: " + m.Image + " inserted" + by.phrase()
		if !m.Inserted {
			msg = "Virtual CD: " + m.Image + " attached but not inserted" + by.phrase()
		}
	default:
		msg = "Virtual CD: " + m.Image + " ejected" + by.phrase()
	}
	if note != "" {
		msg += " (" + note + ")"
	}
	return Event{Kind: kind, Severity: SeverityOK, By: &by, Message: msg + "."}
}
