package eksapi

import (
	"encoding/json"
	"net/http"

	"github.com/fargo-dev/fargo/internal/profile"
)

// apiError is an EKS error: its type goes in the x-amzn-ErrorType header and, with
// the message and context members, in the JSON body, as the SDKs expect.
type apiError struct {
	Status  int
	Type    string
	Message string
	// Context members of the EKS error shapes.
	ClusterName        string
	FargateProfileName string
	NodegroupName      string
}

func (e *apiError) write(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", e.Type)
	w.WriteHeader(e.Status)
	body := map[string]string{"message": e.Message}
	if e.ClusterName != "" {
		body["clusterName"] = e.ClusterName
	}
	if e.FargateProfileName != "" {
		body["fargateProfileName"] = e.FargateProfileName
	}
	if e.NodegroupName != "" {
		body["nodegroupName"] = e.NodegroupName
	}
	_ = json.NewEncoder(w).Encode(body)
}

// fromRule turns a profile rule violation into the EKS error.
func fromRule(e *profile.Error, cluster, name string) *apiError {
	status := http.StatusBadRequest
	switch e.Code {
	case profile.ResourceInUse:
		status = http.StatusConflict
	case profile.ResourceNotFound:
		status = http.StatusNotFound
	}
	return &apiError{Status: status, Type: e.Code, Message: e.Message, ClusterName: cluster, FargateProfileName: name}
}

func invalidParameter(msg, cluster string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Type: profile.InvalidParameter, Message: msg, ClusterName: cluster}
}

func serverError(err error) *apiError {
	return &apiError{Status: http.StatusInternalServerError, Type: "ServerException", Message: err.Error()}
}
