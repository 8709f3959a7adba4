package ipmi

import (
	"github.com/bougou/go-ipmi/pkg/handlers"
	"github.com/bougou/go-ipmi/pkg/types"
)

// registerBMCHandlers adds the rest of a BMC: sensors and the SDR, the
// SEL, LAN and channel settings, global enables, the watchdog, power-on
// hours, the restart cause and DCMI. FRU, SDR records and SOL are go-ipmi's
// handlers on this package's HAL (storageHAL, consoleHAL), but for Set SOL
// Configuration Parameters, whose bit rates are the console's.
func registerBMCHandlers(r *handlers.Registry) {
	for c, h := range map[types.Command]handlers.HandlerFunc{
		types.CommandGetSensorReading:     handleGetSensorReading,
		types.CommandGetSensorThresholds:  handleGetSensorThresholds,
		types.CommandGetSensorHysteresis:  handleGetSensorHysteresis,
		types.CommandGetSensorEventEnable: handleGetSensorEventEnable,
		types.CommandGetSensorEventStatus: handleGetSensorEventStatus,
		types.CommandGetSensorType:        handleGetSensorType,
		types.CommandGetSDRRepoInfo:       handleGetSDRRepoInfo,

		types.CommandGetSELInfo:          handleGetSELInfo,
		types.CommandGetSELAllocInfo:     handleGetSELAllocInfo,
		types.CommandReserveSEL:          handleReserveSEL,
		types.CommandGetSELEntry:         handleGetSELEntry,
		types.CommandClearSEL:            handleClearSEL,
		types.CommandGetSELTime:          handleGetSELTime,
		types.CommandSetSELTime:          handleSetSELTime,
		types.CommandGetSELTimeUTCOffset: handleGetSELTimeUTCOffset,

		types.CommandGetLanConfigParam: handleGetLanConfigParam,
		types.CommandSetLanConfigParam: handleSetLanConfigParam,
		types.CommandGetChannelAccess:  handleGetChannelAccess,
		types.CommandSetChannelAccess:  handleSetChannelAccess,

		types.CommandGetBMCGlobalEnables:   handleGetBMCGlobalEnables,
		types.CommandSetBMCGlobalEnables:   handleSetBMCGlobalEnables,
		types.CommandGetWatchdogTimer:      handleGetWatchdogTimer,
		types.CommandSetWatchdogTimer:      handleSetWatchdogTimer,
		types.CommandResetWatchdogTimer:    handleResetWatchdogTimer,
		types.CommandGetPOHCounter:         handleGetPOHCounter,
		types.CommandGetSystemRestartCause: handleGetSystemRestartCause,

		types.CommandGetDCMICapParam:                 handleGetDCMICapabilities,
		types.CommandGetDCMIPowerReading:             handleGetDCMIPowerReading,
		types.CommandGetDCMIPowerLimit:               handleGetDCMIPowerLimit,
		types.CommandGetDCMIAssetTag:                 handleGetDCMIAssetTag,
		types.CommandGetDCMISensorInfo:               handleGetDCMISensorInfo,
		types.CommandGetDCMIMgmtControllerIdentifier: handleGetDCMIMCIDString,

		types.CommandSetSOLConfigParam: handleSetSOLConfigParam,
	} {
		r.Register(c, h)
	}
}
