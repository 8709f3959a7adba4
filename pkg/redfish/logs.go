package redfish

import (
	"net/http"
	"strconv"
	"time"

	"github.com/powerjockey/powerjockey/pkg/node"
)

// A node's log is its event log (pkg/node): power actions and who asked,
// unrequested power changes (a machine that shut itself down), manual
// actions announced and done, sensor failures and recoveries, boot
// override and indicator changes, clears. The IPMI SEL shows the same
// events; clearing one clears the other.

// logID is the one log service of a System.
const logID = "EventLog"

// clearLogAction is the action name used in messages.
const clearLogAction = "#LogService.ClearLog"

func logServicePath(nodeName string) string { return SystemPath(nodeName) + "/LogServices/" + logID }

func serveLogServices(c *call) *apiError {
	name := c.entry.System.Name()
	return c.collection(typeLogServiceColl, SystemPath(name)+"/LogServices", "Log Service Collection",
		[]string{logServicePath(name)})
}

func serveLogService(c *call) *apiError {
	sys := c.entry.System
	path := logServicePath(sys.Name())
	return c.get(map[string]any{
		"@odata.type": typeLogService,
		"@odata.id":   path,
		"Id":          logID,
		"Name":        "Event Log",
		"Description": "What happened to " + sys.Name() + ": power actions and who asked, unrequested power changes, " +
			"manual actions, sensor failures, boot override and indicator changes (the events the IPMI SEL shows)",
		"MaxNumberOfRecords":  sys.EventLogSize(),
		"OverWritePolicy":     "WrapsWhenFull",
		"DateTime":            c.s.now().UTC().Format(time.RFC3339),
		"DateTimeLocalOffset": "+00:00",
		"ServiceEnabled":      true,
		"LogEntryType":        "Event",
		"Status":              map[string]any{"State": "Enabled", "Health": "OK"},
		"Entries":             odataID(path + "/Entries"),
		"Actions": map[string]any{
			clearLogAction: map[string]any{"target": path + "/Actions/LogService.ClearLog"},
		},
	})
}

func logEntryResource(nodeName string, e node.Event) map[string]any {
	id := strconv.FormatUint(uint64(e.ID), 10)
	sev := string(e.Severity)
	if sev == "" {
		sev = "OK"
	}
	return map[string]any{
		"@odata.type": typeLogEntry,
		"@odata.id":   logServicePath(nodeName) + "/Entries/" + id,
		"Id":          id,
		"Name":        "Event " + id,
		"EntryType":   "Event",
		"Severity":    sev,
		"Created":     e.At.UTC().Format(time.RFC3339),
		"Message":     e.Message,
		"Links":       map[string]any{"OriginOfCondition": odataID(SystemPath(nodeName))},
	}
}

// serveLogEntries lists the events, oldest first, each in full (the
// LogEntryCollection schema expands its members).
func serveLogEntries(c *call) *apiError {
	sys := c.entry.System
	evs, err := sys.Events()
	if err != nil {
		return eventLogError(err)
	}
	path := logServicePath(sys.Name()) + "/Entries"
	if c.query.only && len(evs) == 1 {
		return c.s.redirectGet(c, path+"/"+strconv.FormatUint(uint64(evs[0].ID), 10))
	}
	members := make([]any, len(evs))
	for i, e := range evs {
		members[i] = logEntryResource(sys.Name(), e)
	}
	return c.get(map[string]any{
		"@odata.type":         typeLogEntryColl,
		"@odata.id":           path,
		"Name":                "Event Log Entries",
		"Members@odata.count": len(members),
		"Members":             members,
	})
}

func findLogEntry(c *call) *apiError {
	if aerr := findEntry("ComputerSystem")(c); aerr != nil {
		return aerr
	}
	id, err := strconv.ParseUint(c.params[1], 10, 32)
	if err != nil {
		return notFound("LogEntry", truncate(c.params[1]))
	}
	evs, lerr := c.entry.System.Events()
	if lerr != nil {
		return eventLogError(lerr)
	}
	for _, e := range evs {
		if uint64(e.ID) == id {
			c.item = e
			return nil
		}
	}
	return notFound("LogEntry", truncate(c.params[1]))
}

func serveLogEntry(c *call) *apiError {
	return c.get(logEntryResource(c.entry.System.Name(), c.item.(node.Event)))
}

// clearLog empties the node's event log; the one entry left says who
// cleared it.
func clearLog(c *call) *apiError {
	data, aerr := readBody(c.w, c.r)
	if aerr != nil {
		return aerr
	}
	if aerr := decodeClearLog(data); aerr != nil {
		return aerr
	}
	if err := c.entry.System.ClearEvents(c.r.Context()); err != nil {
		return eventLogError(err)
	}
	return c.noContent()
}

func eventLogError(err error) *apiError {
	return newError(http.StatusInternalServerError, msg("InternalError")).
		withDetail("The event log could not be read or written: " + err.Error())
}
