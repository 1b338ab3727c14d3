package profile

import "fmt"

// EKS exception types, used as error codes by every entry point.
const (
	InvalidParameter      = "InvalidParameterException"
	ResourceLimitExceeded = "ResourceLimitExceededException"
	ResourceInUse         = "ResourceInUseException"
	ResourceNotFound      = "ResourceNotFoundException"
)

// Error is a rule violation with EKS's exception type and message.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func invalid(format string, args ...any) *Error {
	return &Error{Code: InvalidParameter, Message: fmt.Sprintf(format, args...)}
}
