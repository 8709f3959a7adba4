package redfish

import (
	"net/http"
	"strings"
)

// registryPrefix is the DMTF Base message registry this service cites:
// MessageIds are "Base.1.16.<Key>" (DSP0266: RegistryName.Major.Minor.Key).
const registryPrefix = "Base.1.16."

// registryEntry is one message of the Base registry: its text with %1…%n
// placeholders, severity and resolution, as DMTF publishes them.
type registryEntry struct {
	text       string
	severity   string
	resolution string
}

// baseRegistry holds the Base 1.16.0 messages this service sends. It is
// read-only.
var baseRegistry = map[string]registryEntry{
	"AccountNotModified": {"The account modification request failed.", "Warning",
		"The modification may have failed due to permission issues or issues with the request body."},
	"ActionParameterDuplicate": {"The action %1 was submitted with more than one value for the parameter %2.", "Warning",
		"Resubmit the action with only one instance of the action parameter in the request body if the operation failed."},
	"ActionParameterMissing": {"The action %1 requires the parameter %2 to be present in the request body.", "Critical",
		"Supply the action with the required parameter in the request body when the request is resubmitted."},
	"ActionParameterNotSupported": {"The parameter %1 for the action %2 is not supported on the target resource.", "Warning",
		"Remove the parameter supplied and resubmit the request if the operation failed."},
	"ActionParameterUnknown": {"The action %1 was submitted with the invalid parameter %2.", "Warning",
		"Correct the invalid action parameter and resubmit the request if the operation failed."},
	"ActionParameterValueConflict": {"The parameter '%1' with the requested value of '%2' does not meet the constraints of the implementation.", "Warning",
		"No resolution is required."},
	"ActionParameterValueFormatError": {"The value '%1' for the parameter %2 in the action %3 is of a different format than the parameter can accept.", "Warning",
		"Correct the value for the parameter in the request body and resubmit the request if the operation failed."},
	"ActionParameterValueNotInList": {"The value '%1' for the parameter %2 in the action %3 is not in the list of acceptable values.", "Warning",
		"Choose a value from the enumeration list that the implementation can support and resubmit the request if the operation failed."},
	"ActionParameterValueTypeError": {"The value '%1' for the parameter %2 in the action %3 is of a different type than the parameter can accept.", "Warning",
		"Correct the value for the parameter in the request body and resubmit the request if the operation failed."},
	"CouldNotEstablishConnection": {"The service failed to establish a connection with the URI '%1'.", "Critical",
		"Ensure that the URI contains a valid and reachable node name, protocol information and other URI components."},
	"CreateFailedMissingReqProperties": {"The create operation failed because the required property %1 was missing from the request.", "Critical",
		"Correct the body to include the required property with a valid value and resubmit the request if the operation failed."},
	"EmptyJSON": {"The request body submitted contained an empty JSON object and the service is unable to process it.", "Warning",
		"Add properties in the JSON object and resubmit the request."},
	"GeneralError": {"A general error has occurred.  See Resolution for information on how to resolve the error, or @Message.ExtendedInfo if Resolution is not provided.", "Critical",
		"None."},
	"HeaderInvalid": {"Header '%1' is invalid.", "Critical",
		"Resubmit the request with a valid request header."},
	"InsufficientPrivilege": {"There are insufficient privileges for the account or credentials associated with the current session to perform the requested operation.", "Critical",
		"Either abandon the operation or change the associated access rights and resubmit the request if the operation failed."},
	"InternalError": {"The request failed due to an internal service error.  The service is still operational.", "Critical",
		"Resubmit the request.  If the problem persists, consider resetting the service."},
	"InvalidURI": {"The URI %1 was not found.", "Critical",
		"Provide a valid URI and resubmit the request."},
	"MalformedJSON": {"The request body submitted was malformed JSON and could not be parsed by the receiving service.", "Critical",
		"Ensure that the request body is valid JSON and resubmit the request."},
	"NoOperation": {"The request body submitted contain no data to act upon and no changes to the resource took place.", "Warning",
		"Add properties in the JSON object and resubmit the request."},
	"NoValidSession": {"There is no valid session established with the implementation.", "Critical",
		"Establish a session before attempting any operations."},
	"OperationNotAllowed": {"The HTTP method is not allowed on this resource.", "Critical",
		"None."},
	"PayloadTooLarge": {"The supplied payload exceeds the maximum size supported by the service.", "Critical",
		"Check that the supplied payload is correct and supported by this service."},
	"PreconditionFailed": {"The ETag supplied did not match the ETag required to change this resource.", "Critical",
		"Try the operation again using the appropriate ETag."},
	"PropertyDuplicate": {"The property %1 was duplicated in the request.", "Warning",
		"Remove the duplicate property from the request body and resubmit the request if the operation failed."},
	"PropertyNotWritable": {"The property %1 is a read only property and cannot be assigned a value.", "Warning",
		"Remove the property from the request body and resubmit the request if the operation failed."},
	"PropertyUnknown": {"The property %1 is not in the list of valid properties for the resource.", "Warning",
		"Remove the unknown property from the request body and resubmit the request if the operation failed."},
	"PropertyNotUpdated": {"The property %1 was not updated due to an internal service error.  The service is still operational.", "Critical",
		"Resubmit the request.  If the problem persists, check for additional messages and consider resetting the service."},
	"PropertyValueConflict": {"The property '%1' could not be written because its value would conflict with the value of the '%2' property.", "Warning",
		"No resolution is required."},
	"PropertyValueFormatError": {"The value '%1' for the property %2 is of a different format than the property can accept.", "Warning",
		"Correct the value for the property in the request body and resubmit the request if the operation failed."},
	"PropertyValueNotInList": {"The value '%1' for the property %2 is not in the list of acceptable values.", "Warning",
		"Choose a value from the enumeration list that the implementation can support and resubmit the request if the operation failed."},
	"PropertyValueTypeError": {"The value '%1' for the property %2 is of a different type than the property can accept.", "Warning",
		"Correct the value for the property in the request body and resubmit the request if the operation failed."},
	"QueryCombinationInvalid": {"Two or more query parameters in the request cannot be used together.", "Warning",
		"Remove one or more of the query parameters and resubmit the request if the operation failed."},
	"QueryNotSupportedOnOperation": {"Querying is not supported with the requested operation.", "Warning",
		"Remove the query parameters and resubmit the request if the operation failed."},
	"QueryNotSupportedOnResource": {"Querying is not supported on the requested resource.", "Warning",
		"Remove the query parameters and resubmit the request if the operation failed."},
	"QueryParameterUnsupported": {"Query parameter '%1' is not supported.", "Warning",
		"Correct or remove the query parameter and resubmit the request."},
	"QueryParameterValueFormatError": {"The value '%1' for the parameter %2 is of a different format than the parameter can accept.", "Warning",
		"Correct the value for the query parameter in the request and resubmit the request if the operation failed."},
	"ResourceAtUriUnauthorized": {"While accessing the resource at '%1', the service received an authorization error '%2'.", "Critical",
		"Ensure that the appropriate access is provided for the service in order for it to access the URI."},
	"ResourceMissingAtURI": {"The resource at the URI '%1' was not found.", "Critical",
		"Place a valid resource at the URI or correct the URI and resubmit the request."},
	"ResourceNotFound": {"The requested resource of type %1 named '%2' was not found.", "Critical",
		"Provide a valid resource identifier and resubmit the request."},
	"ServiceTemporarilyUnavailable": {"The service is temporarily unavailable.  Retry in %1 seconds.", "Critical",
		"Wait for the indicated retry duration and retry the operation."},
	"SourceDoesNotSupportProtocol": {"The other end of the connection at '%1' does not support the specified protocol %2.", "Critical",
		"Change protocols or URIs."},
	"SessionLimitExceeded": {"The session establishment failed due to the number of simultaneous sessions exceeding the limit of the implementation.", "Critical",
		"Reduce the number of other sessions before trying to establish the session or increase the limit of simultaneous sessions, if supported."},
}

// message is one entry of an error's @Message.ExtendedInfo (Message.v1_1_1).
type message struct {
	ODataType   string   `json:"@odata.type"`
	MessageID   string   `json:"MessageId"`
	Message     string   `json:"Message"`
	MessageArgs []string `json:"MessageArgs"`
	// Severity is the pre-1.1 property; sushy reads it to pick the message
	// it reports. MessageSeverity is its successor.
	Severity          string   `json:"Severity"`
	MessageSeverity   string   `json:"MessageSeverity"`
	Resolution        string   `json:"Resolution"`
	RelatedProperties []string `json:"RelatedProperties,omitempty"`
}

// msg builds a Base registry message. Unknown keys are a programming error
// and become InternalError rather than a panic.
func msg(key string, args ...string) message {
	e, ok := baseRegistry[key]
	if !ok {
		key, e, args = "InternalError", baseRegistry["InternalError"], nil
	}
	text := e.text
	// Replace from the highest index down so %1 does not eat %10.
	for i := len(args); i >= 1; i-- {
		text = strings.ReplaceAll(text, "%"+itoa(i), args[i-1])
	}
	if args == nil {
		args = []string{}
	}
	return message{
		ODataType:       "#Message.v1_1_1.Message",
		MessageID:       registryPrefix + key,
		Message:         text,
		MessageArgs:     args,
		Severity:        e.severity,
		MessageSeverity: e.severity,
		Resolution:      e.resolution,
	}
}

// related sets the JSON pointers of the properties a message is about.
func (m message) related(pointers ...string) message {
	m.RelatedProperties = pointers
	return m
}

// withResolution replaces the registry's resolution with a concrete one.
func (m message) withResolution(r string) message {
	m.Resolution = r
	return m
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

// apiError is a Redfish error response: a status, the messages of its
// @Message.ExtendedInfo, and optionally a specific top-level message.
type apiError struct {
	status int
	msgs   []message
	// detail, when set, is error.message; else the first message's text.
	detail string
	// header holds extra response headers (WWW-Authenticate, Allow, Retry-After).
	header http.Header
}

func newError(status int, msgs ...message) *apiError {
	return &apiError{status: status, msgs: msgs}
}

func (e *apiError) withDetail(d string) *apiError {
	e.detail = d
	return e
}

func (e *apiError) withHeader(k, v string) *apiError {
	if e.header == nil {
		e.header = http.Header{}
	}
	e.header.Set(k, v)
	return e
}

func (e *apiError) Error() string {
	if e.detail != "" {
		return e.detail
	}
	if len(e.msgs) > 0 {
		return e.msgs[0].Message
	}
	return http.StatusText(e.status)
}

// body is the error response document (DSP0266 "Error responses").
func (e *apiError) body() map[string]any {
	code := registryPrefix + "GeneralError"
	if len(e.msgs) > 0 {
		code = e.msgs[0].MessageID
	}
	msgs := e.msgs
	if msgs == nil {
		msgs = []message{}
	}
	return map[string]any{
		"error": map[string]any{
			"code":                  code,
			"message":               e.Error(),
			"@Message.ExtendedInfo": msgs,
		},
	}
}

func notFound(typ, name string) *apiError {
	return newError(http.StatusNotFound, msg("ResourceNotFound", typ, name))
}

func invalidURI(path string) *apiError {
	return newError(http.StatusNotFound, msg("InvalidURI", path))
}

func methodNotAllowed(allow string) *apiError {
	return newError(http.StatusMethodNotAllowed, msg("OperationNotAllowed")).withHeader("Allow", allow)
}

// accountsReadOnly is the 405 of a write to the AccountService, its
// accounts or roles: the configuration file is their only source.
func accountsReadOnly(allow string) *apiError {
	return newError(http.StatusMethodNotAllowed, msg("OperationNotAllowed"), msg("AccountNotModified")).
		withDetail("Accounts and roles are read-only here: they come from the configuration file (each node's ipmi "+
			"username, password and privilege). Change the file and reload the daemon (SIGHUP).").
		withHeader("Allow", allow)
}
