package passcheck

import "github.com/menjin/menjin/accessctl"

// Pass result codes and their exact English messages (spec §5.4). The 4xx
// password codes are the spec's proposal, not the platform's; see
// WithPasswordResults.
const (
	CodeSuccess = 0

	CodeQRNotYetValid = 101
	CodeQRExpired     = 102
	CodeQRUnknown     = 103
	CodeQRUsedUp      = 104

	CodeCardNotYetValid = 201
	CodeCardExpired     = 202
	CodeCardUnknown     = 203

	CodeBLENotYetValid = 301
	CodeBLEExpired     = 302
	CodeBLEUnknown     = 303

	CodePasswordNotYetValid = 401 // proposed, not in the source
	CodePasswordExpired     = 402 // proposed, not in the source
	CodePasswordUnknown     = 403 // proposed, not in the source

	CodeFaceNotYetValid  = 501
	CodeFaceExpired      = 502
	CodeFaceLibraryEmpty = 503
	CodeFaceFeature      = 504
	CodeFaceSimilarity   = 505
	CodeFaceBlacklist    = 506
	CodeFaceTimeout      = 507

	CodeUnknownError = 10000
)

var messages = map[int]string{
	CodeSuccess:             "success",
	CodeQRNotYetValid:       "QR code does not take effect",
	CodeQRExpired:           "QR code has expired",
	CodeQRUnknown:           "QR code does not exist",
	CodeQRUsedUp:            "QR code have be used up", // sic: the platform's text
	CodeCardNotYetValid:     "Traditional card number does not take effect",
	CodeCardExpired:         "Traditional card number has expired",
	CodeCardUnknown:         "Traditional card number does not exist",
	CodeBLENotYetValid:      "Bluetooth card number does not take effect",
	CodeBLEExpired:          "Bluetooth card number has expired",
	CodeBLEUnknown:          "Bluetooth card number does not exist",
	CodePasswordNotYetValid: "Password does not take effect",
	CodePasswordExpired:     "Password has expired",
	CodePasswordUnknown:     "Password does not exist",
	CodeFaceNotYetValid:     "Face auth does not take effect",
	CodeFaceExpired:         "Face information has expired",
	CodeFaceLibraryEmpty:    "Face library is empty",
	CodeFaceFeature:         "Face feature extraction failed",
	CodeFaceSimilarity:      "Face matching similarity is less than the threshold",
	CodeFaceBlacklist:       "The user is in blacklist",
	CodeFaceTimeout:         "Face recognition timeout",
	CodeUnknownError:        "Unknown error",
}

// Message returns the exact message for a result code ("Unknown error" for
// a code the tables do not list).
func Message(code int) string {
	if m, ok := messages[code]; ok {
		return m
	}
	return messages[CodeUnknownError]
}

// ResultOf returns the accessctl.Result for a code: granted only for 0.
func ResultOf(code int) accessctl.Result {
	return accessctl.Result{Granted: code == CodeSuccess, Code: code, Message: Message(code)}
}

// Results are the three refusals of one credential kind.
type Results struct {
	NotYetValid, Expired, Unknown accessctl.Result
}

func resultsOf(notYet, expired, unknown int) Results {
	return Results{ResultOf(notYet), ResultOf(expired), ResultOf(unknown)}
}

var (
	qrResults       = resultsOf(CodeQRNotYetValid, CodeQRExpired, CodeQRUnknown)
	cardResults     = resultsOf(CodeCardNotYetValid, CodeCardExpired, CodeCardUnknown)
	bleResults      = resultsOf(CodeBLENotYetValid, CodeBLEExpired, CodeBLEUnknown)
	passwordResults = resultsOf(CodePasswordNotYetValid, CodePasswordExpired, CodePasswordUnknown)
)
