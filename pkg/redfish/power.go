package redfish

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/powerjockey/powerjockey/pkg/node"
	"github.com/powerjockey/powerjockey/pkg/power"
)

// A node's Chassis is its enclosure: the identify indicator (recorded,
// shared with the System) and what the PDU knows of its power.

// chassisETag versions what a Chassis PATCH can change: the indicator.
func chassisETag(ind node.Indicator) string { return weakTag("chassis", string(ind)) }

func (c *call) chassisResource(ph powerHealth) (map[string]any, string) {
	sys := c.entry.System
	name := sys.Name()
	ind := sys.Indicator()
	body := map[string]any{
		"@odata.type":                          typeChassis,
		"@odata.id":                            chassisPath(name),
		"Id":                                   name,
		"Name":                                 name,
		"Description":                          "The enclosure of " + name + "; its power is what the node's PDU outlets feed",
		"ChassisType":                          "Other",
		"UUID":                                 sys.GUID().String(),
		"PowerState":                           ph.powerState(),
		"Status":                               ph.status(),
		"IndicatorLED":                         string(ind),
		"IndicatorLED@Redfish.AllowableValues": indicatorValues,
		"LocationIndicatorActive":              ind != node.IndicatorOff,
		"Power":                                odataID(chassisPath(name) + "/Power"),
		"Links": map[string]any{
			"ComputerSystems": []any{odataID(SystemPath(name))},
			"ManagedBy":       []any{odataID(managerPath(name))},
		},
	}
	return body, chassisETag(ind)
}

func serveChassis(c *call) *apiError {
	body, tag := c.chassisResource(assessPower(c.r.Context(), c.entry.System))
	return c.resource(http.StatusOK, body, tag)
}

// patchChassis sets the indicator: IndicatorLED or LocationIndicatorActive.
func patchChassis(c *call) *apiError {
	data, aerr := readBody(c.w, c.r)
	if aerr != nil {
		return aerr
	}
	patch, aerr := decodeChassisPatch(data)
	if aerr != nil {
		return aerr
	}
	sys := c.entry.System
	mu := c.s.nodeLock(sys.Name())
	mu.Lock()
	defer mu.Unlock()
	if cur := chassisETag(sys.Indicator()); !ifMatch(c.r.Header.Values("If-Match"), cur) {
		return preconditionFailed(cur)
	}
	if aerr := c.setIndicator(patch); aerr != nil {
		return aerr
	}
	body, tag := c.chassisResource(assessPower(c.r.Context(), sys))
	return c.resource(http.StatusOK, body, tag)
}

// servePower is the chassis' Power resource: PowerControl with the node's
// metered draw (absent, not zero, without a meter or a fresh reading) and
// its last hour's statistics, and one power supply per PDU outlet feeding
// the node, with that outlet's state and draw.
func servePower(c *call) *apiError {
	sys := c.entry.System
	name := sys.Name()
	path := chassisPath(name) + "/Power"
	ph := assessPower(c.r.Context(), sys)
	fresh := ph.known && ph.health == "OK"

	supplies := []any{}
	for i, o := range c.entry.Hardware.Outlets {
		supplies = append(supplies, supplyResource(path, i, o, ph, fresh))
	}
	controls := []any{}
	if len(c.entry.Hardware.Outlets) > 0 {
		pc := map[string]any{
			"@odata.id": path + "#/PowerControl/0",
			"MemberId":  "0",
			"Name":      "Power drawn by " + name,
			"Status":    ph.status(),
			"RelatedItem": []any{
				odataID(SystemPath(name)),
				odataID(chassisPath(name)),
			},
		}
		if fresh && ph.reading.Watts != nil {
			pc["PowerConsumedWatts"] = *ph.reading.Watts
		}
		now := time.Now()
		if st := node.Summarise(sys.MeterSamples(now.Add(-node.MeterHistory))); st.Count > 0 {
			pc["PowerMetrics"] = map[string]any{
				"IntervalInMin":        max(1, int(math.Round(now.Sub(st.Since).Minutes()))),
				"MinConsumedWatts":     st.Min,
				"MaxConsumedWatts":     st.Max,
				"AverageConsumedWatts": math.Round(st.Avg*10) / 10,
			}
		}
		controls = append(controls, pc)
	}
	return c.get(map[string]any{
		"@odata.type":   typePower,
		"@odata.id":     path,
		"Id":            "Power",
		"Name":          "Power of " + name,
		"PowerControl":  controls,
		"PowerSupplies": supplies,
	})
}

// supplyResource is the power supply fed by outlet o: enabled while the
// outlet is on, disabled while it is off, its input the outlet's metered
// draw. Nothing is claimed that was not read: without a fresh reading of
// the outlet its state and draw are left out and its health says why.
func supplyResource(path string, i int, o Outlet, ph powerHealth, fresh bool) map[string]any {
	id := strconv.Itoa(i)
	ps := map[string]any{
		"@odata.id": path + "#/PowerSupplies/" + id,
		"MemberId":  id,
		"Name":      fmt.Sprintf("Power supply on PDU %s outlet %d", o.PDU, o.Outlet),
	}
	var out *power.OutletReading
	if fresh {
		for k := range ph.reading.Outlets {
			if r := ph.reading.Outlets[k]; r.PDU == o.PDU && r.Outlet == o.Outlet {
				out = &ph.reading.Outlets[k]
			}
		}
	}
	switch {
	case out == nil && !fresh:
		ps["Status"] = ph.status()
	case out == nil:
		ps["Description"] = "The outlet's state is not known: the node's power status comes from another sensor."
	case out.State == power.StateOn:
		ps["Status"] = map[string]any{"State": "Enabled", "Health": "OK"}
	default:
		ps["Status"] = map[string]any{"State": "Disabled", "Health": "OK"}
	}
	if out != nil && out.Watts != nil {
		ps["PowerInputWatts"] = *out.Watts
	}
	return ps
}
