package redfish

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/powerjockey/powerjockey/pkg/node"
)

// A node's emulated BMC has one virtual CD, as sushy and Ironic's
// redfish-virtual-media boot interface (and Metal3's
// redfish-virtualmedia:// addresses) use it: /Managers/{id}/VirtualMedia/Cd
// with InsertMedia, EjectMedia and PATCH. The image is checked when it is
// inserted (reachable, present, Range requests answered) and then served
// to the machine by the boot endpoint, which sanboots it when the boot
// override is Cd. Without a boot endpoint there is no virtual media.

// mediaID is the one virtual media device of a Manager.
const mediaID = "Cd"

// Action names, as messages cite them.
const (
	insertMediaAction = "VirtualMedia.InsertMedia"
	ejectMediaAction  = "VirtualMedia.EjectMedia"
)

// mediaTimeout bounds an insertion's check of the image (the checker has
// its own, shorter bound).
const mediaTimeout = 30 * time.Second

// maxImageURL bounds an image URL.
const maxImageURL = 2048

func mediaCollPath(nodeName string) string { return managerPath(nodeName) + "/VirtualMedia" }

func mediaPath(nodeName string) string { return mediaCollPath(nodeName) + "/" + mediaID }

// findMedia resolves a node whose BMC has virtual media (there is a boot
// endpoint to serve it).
func findMedia(c *call) *apiError {
	if aerr := findEntry("Manager")(c); aerr != nil {
		return aerr
	}
	if !c.entry.System.HasVirtualMedia() {
		return notFound("VirtualMediaCollection", truncate(c.params[0])).
			withDetail("This BMC has no virtual media: powerjockey's boot endpoint, which serves the image to the machine, is off (boot.listen).")
	}
	return nil
}

func serveMediaCollection(c *call) *apiError {
	name := c.entry.System.Name()
	return c.collection(typeVirtualMediaColl, mediaCollPath(name), "Virtual Media Collection", []string{mediaPath(name)})
}

// mediaETag versions what a PATCH or an action can change.
func mediaETag(m node.Media) string {
	return weakTag(m.Image, m.ID, boolString(m.Inserted))
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// mediaResource renders the virtual CD and returns its ETag.
func mediaResource(sys System) (map[string]any, string) {
	name := sys.Name()
	path := mediaPath(name)
	m := sys.Media()
	body := map[string]any{
		"@odata.type": typeVirtualMedia,
		"@odata.id":   path,
		"Id":          mediaID,
		"Name":        "Virtual CD",
		"Description": "A virtual CD/DVD drive: powerjockey's boot endpoint serves the image to the machine's iPXE, " +
			"which boots it when the boot override is Cd",
		"MediaTypes":     []string{"CD", "DVD"},
		"ConnectedVia":   "NotConnected",
		"Image":          nil,
		"ImageName":      nil,
		"Inserted":       m.Inserted,
		"WriteProtected": true,
		// The image is read as the machine reads it: Stream.
		"TransferMethod":       "Stream",
		"TransferProtocolType": nil,
		"UserName":             nil,
		// The schema requires null on reads.
		"Password": nil,
		"Actions": map[string]any{
			"#" + insertMediaAction: map[string]any{
				"target": path + "/Actions/" + insertMediaAction,
				"TransferProtocolType@Redfish.AllowableValues": []string{"HTTP", "HTTPS"},
				"TransferMethod@Redfish.AllowableValues":       []string{"Stream"},
			},
			"#" + ejectMediaAction: map[string]any{"target": path + "/Actions/" + ejectMediaAction},
		},
	}
	if m.Attached() {
		body["ConnectedVia"] = "URI"
		body["Image"] = m.Image
		body["ImageName"] = m.ImageName()
		body["TransferProtocolType"] = protocolOf(m.Image)
		if m.UserName != "" {
			body["UserName"] = m.UserName
		}
	}
	return body, mediaETag(m)
}

// protocolOf is the TransferProtocolType of an image URL.
func protocolOf(image string) string {
	if strings.HasPrefix(strings.ToLower(image), "https:") {
		return "HTTPS"
	}
	return "HTTP"
}

func serveMedia(c *call) *apiError {
	body, tag := mediaResource(c.entry.System)
	return c.resource(http.StatusOK, body, tag)
}

// mediaRequest is a decoded InsertMedia or PATCH of the virtual CD: what
// to change (nil: unchanged).
type mediaRequest struct {
	// Image is the URL; imageNull is an explicit null (a PATCH's eject).
	Image     *string
	imageNull bool
	Inserted  *bool
	// WriteProtected, TransferMethod and TransferProtocolType may only
	// say what is so anyway: true, Stream, the URL's protocol.
	WriteProtected       *bool
	TransferMethod       *string
	TransferProtocolType *string
	UserName, Password   *string
}

// mediaProps are the properties of the virtual CD that a request may
// name, and the ones that are read-only.
var mediaReadOnly = map[string]bool{
	"Id": true, "Name": true, "Description": true, "MediaTypes": true, "ConnectedVia": true,
	"ImageName": true, "Actions": true, "Status": true, "Oem": true,
}

// decodeMediaRequest decodes an InsertMedia body (action true: Action*
// messages, Image required) or a PATCH (Property* messages, read-only
// properties refused, an empty change is NoOperation). Every problem is
// reported together.
func decodeMediaRequest(data []byte, action bool) (mediaRequest, *apiError) {
	var req mediaRequest
	members, err := objectMembers(data)
	if err != nil {
		return req, malformed(err)
	}
	if !action && len(members) == 0 {
		return req, newError(http.StatusBadRequest, msg("EmptyJSON"))
	}
	var errs []message
	typeErr := func(name, value string) message {
		if action {
			return msg("ActionParameterValueTypeError", value, name, insertMediaAction).related("#/" + name)
		}
		return msg("PropertyValueTypeError", value, name).related("#/" + name)
	}
	notInList := func(name, value string) message {
		if action {
			return msg("ActionParameterValueNotInList", value, name, insertMediaAction).related("#/" + name)
		}
		return msg("PropertyValueNotInList", value, name).related("#/" + name)
	}
	str := func(m member, dst **string) bool {
		v, ok := jsonString(m.raw)
		if !ok {
			shown := argValue(m.raw)
			if m.name == "Password" {
				shown = "(hidden)"
			}
			errs = append(errs, typeErr(m.name, shown))
			return false
		}
		*dst = &v
		return true
	}
	boolean := func(m member, dst **bool) bool {
		switch string(m.raw) {
		case "true", "false":
			v := string(m.raw) == "true"
			*dst = &v
			return true
		}
		errs = append(errs, typeErr(m.name, argValue(m.raw)))
		return false
	}
	seen := map[string]bool{}
	for _, m := range members {
		name := truncate(m.name)
		if seen[m.name] {
			if action {
				errs = append(errs, msg("ActionParameterDuplicate", insertMediaAction, name).related("#/"+name))
			} else {
				errs = append(errs, msg("PropertyDuplicate", name).related("#/"+name))
			}
			continue
		}
		seen[m.name] = true
		switch {
		case m.name == "Image":
			if !action && string(m.raw) == "null" {
				req.imageNull = true
				continue
			}
			if str(m, &req.Image) && len(*req.Image) > maxImageURL {
				if action {
					errs = append(errs, msg("ActionParameterValueFormatError", truncate(*req.Image), "Image", insertMediaAction).related("#/Image"))
				} else {
					errs = append(errs, msg("PropertyValueFormatError", truncate(*req.Image), "Image").related("#/Image"))
				}
			}
		case m.name == "Inserted":
			boolean(m, &req.Inserted)
		case m.name == "WriteProtected":
			if boolean(m, &req.WriteProtected) && !*req.WriteProtected {
				errs = append(errs, notInList("WriteProtected", "false"))
			}
		case m.name == "TransferMethod":
			if str(m, &req.TransferMethod) && *req.TransferMethod != "Stream" {
				errs = append(errs, notInList("TransferMethod", truncate(*req.TransferMethod)))
			}
		case m.name == "TransferProtocolType":
			if str(m, &req.TransferProtocolType) && *req.TransferProtocolType != "HTTP" && *req.TransferProtocolType != "HTTPS" {
				errs = append(errs, notInList("TransferProtocolType", truncate(*req.TransferProtocolType)))
			}
		case m.name == "UserName":
			str(m, &req.UserName)
		case m.name == "Password":
			str(m, &req.Password)
		case strings.HasPrefix(m.name, "@odata."):
			// Annotations are not properties to change (DSP0266).
		case action:
			errs = append(errs, msg("ActionParameterUnknown", insertMediaAction, name).related("#/"+name))
		case mediaReadOnly[m.name]:
			errs = append(errs, msg("PropertyNotWritable", name).related("#/"+name))
		default:
			errs = append(errs, msg("PropertyUnknown", name).related("#/"+name))
		}
	}
	if action && req.Image == nil && !seen["Image"] {
		errs = append(errs, msg("ActionParameterMissing", insertMediaAction, "Image").related("#/Image"))
	}
	if len(errs) == 0 && req.Image != nil && req.TransferProtocolType != nil && protocolOf(*req.Image) != *req.TransferProtocolType {
		if action {
			errs = append(errs, msg("ActionParameterValueConflict", "TransferProtocolType", *req.TransferProtocolType).related("#/TransferProtocolType"))
		} else {
			errs = append(errs, msg("PropertyValueConflict", "TransferProtocolType", "Image").related("#/TransferProtocolType"))
		}
	}
	if !action && len(errs) == 0 && req.empty() {
		errs = append(errs, msg("NoOperation"))
	}
	if len(errs) > 0 {
		return mediaRequest{}, newError(http.StatusBadRequest, errs...)
	}
	return req, nil
}

// empty reports whether a PATCH names nothing to change.
func (r mediaRequest) empty() bool {
	return r.Image == nil && !r.imageNull && r.Inserted == nil && r.WriteProtected == nil &&
		r.TransferMethod == nil && r.TransferProtocolType == nil && r.UserName == nil && r.Password == nil
}

// media is the node media an insertion asks for.
func (r mediaRequest) media() node.Media {
	m := node.Media{Image: *r.Image, Inserted: r.Inserted == nil || *r.Inserted}
	if r.UserName != nil {
		m.UserName = *r.UserName
	}
	if r.Password != nil {
		m.Password = *r.Password
	}
	return m
}

// insertMedia performs VirtualMedia.InsertMedia: 204 once the image was
// checked and attached; the image's problem otherwise (nothing changed).
func insertMedia(c *call) *apiError {
	data, aerr := readBody(c.w, c.r)
	if aerr != nil {
		return aerr
	}
	req, aerr := decodeMediaRequest(data, true)
	if aerr != nil {
		return aerr
	}
	sys := c.entry.System
	mu := c.s.nodeLock(sys.Name())
	mu.Lock()
	defer mu.Unlock()
	ctx, cancel := context.WithTimeout(c.r.Context(), mediaTimeout)
	defer cancel()
	if err := sys.InsertMedia(ctx, req.media()); err != nil {
		return c.s.mediaError(sys.Name(), err, true)
	}
	return c.noContent()
}

// ejectMedia performs VirtualMedia.EjectMedia. sushy posts no body at
// all (and {} when that is refused); an empty drive ejects fine.
func ejectMedia(c *call) *apiError {
	data, aerr := readBody(c.w, c.r)
	if aerr != nil {
		return aerr
	}
	if strings.TrimSpace(string(data)) != "" {
		members, err := objectMembers(data)
		if err != nil {
			return malformed(err)
		}
		var errs []message
		for _, m := range members {
			if !strings.HasPrefix(m.name, "@odata.") {
				errs = append(errs, msg("ActionParameterUnknown", ejectMediaAction, truncate(m.name)).related("#/"+truncate(m.name)))
			}
		}
		if len(errs) > 0 {
			return newError(http.StatusBadRequest, errs...)
		}
	}
	sys := c.entry.System
	mu := c.s.nodeLock(sys.Name())
	mu.Lock()
	defer mu.Unlock()
	if err := sys.EjectMedia(c.r.Context()); err != nil {
		return c.s.mediaError(sys.Name(), err, true)
	}
	return c.noContent()
}

// patchMedia changes the virtual CD as sushy does when a BMC has no
// actions: {"Image": URL, "Inserted": true} inserts, {"Image": null,
// "Inserted": false} ejects, "Inserted" alone moves an attached image in
// or out. If-Match is honoured.
func patchMedia(c *call) *apiError {
	data, aerr := readBody(c.w, c.r)
	if aerr != nil {
		return aerr
	}
	req, aerr := decodeMediaRequest(data, false)
	if aerr != nil {
		return aerr
	}
	sys := c.entry.System
	mu := c.s.nodeLock(sys.Name())
	mu.Lock()
	defer mu.Unlock()
	cur := sys.Media()
	if tag := mediaETag(cur); !ifMatch(c.r.Header.Values("If-Match"), tag) {
		return preconditionFailed(tag)
	}
	conflict := func(prop, other string) *apiError {
		return newError(http.StatusBadRequest, msg("PropertyValueConflict", prop, other).related("#/"+prop))
	}
	ctx, cancel := context.WithTimeout(c.r.Context(), mediaTimeout)
	defer cancel()
	var err error
	switch {
	case req.imageNull || (req.Image != nil && *req.Image == ""):
		if req.Inserted != nil && *req.Inserted {
			return conflict("Inserted", "Image")
		}
		err = sys.EjectMedia(ctx)
	case req.Image != nil:
		err = sys.InsertMedia(ctx, req.media())
	case req.UserName != nil || req.Password != nil:
		return conflict("UserName", "Image")
	case req.TransferProtocolType != nil && (!cur.Attached() || protocolOf(cur.Image) != *req.TransferProtocolType):
		return conflict("TransferProtocolType", "Image")
	case req.Inserted != nil:
		if *req.Inserted && !cur.Attached() {
			return conflict("Inserted", "Image")
		}
		err = sys.SetMediaInserted(ctx, *req.Inserted)
	}
	if err != nil {
		return c.s.mediaError(sys.Name(), err, false)
	}
	body, tag := mediaResource(sys)
	return c.resource(http.StatusOK, body, tag)
}

// mediaError answers an image that cannot be served with the Base message
// that names its problem (400: the client's image), anything else with a
// server error.
func (s *Service) mediaError(nodeName string, err error, action bool) *apiError {
	var me *node.MediaError
	if !errors.As(err, &me) {
		s.log.Error("redfish virtual media change failed", "node", nodeName, "err", err)
		return newError(http.StatusInternalServerError, msg("InternalError")).withDetail("The virtual media could not be changed: " + err.Error())
	}
	u := truncate(me.Image)
	var m message
	status := http.StatusBadRequest
	switch me.Problem {
	case node.MediaUnreachable:
		m = msg("CouldNotEstablishConnection", u)
	case node.MediaNotFound:
		m = msg("ResourceMissingAtURI", u)
	case node.MediaUnauthorized:
		m = msg("ResourceAtUriUnauthorized", u, truncate(me.Err.Error()))
	case node.MediaNoRanges:
		m = msg("SourceDoesNotSupportProtocol", u, "HTTP Range requests")
	case node.MediaBadURL:
		if action {
			m = msg("ActionParameterValueFormatError", u, "Image", insertMediaAction)
		} else {
			m = msg("PropertyValueFormatError", u, "Image")
		}
	default:
		status = http.StatusBadGateway
		m = msg("GeneralError").withResolution("Check the image's server and URL, then insert the image again.")
	}
	s.log.Warn("redfish virtual media refused: the image cannot be served", "node", nodeName, "image", me.Image, "err", me.Err)
	return newError(status, m.related("#/Image")).withDetail("The image cannot be served to the machine, so it was not inserted: " + err.Error())
}
