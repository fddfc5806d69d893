package finspacedata

import "encoding/json"

// UnmarshalJSON accepts CreateUser's access member under both names:
// `apiAccess` (the current model) and `ApiAccess` (botocore ≤ 1.31 and the
// AWS CLI built on it sent the shape name). When both are present the
// current name wins. Hand-written: the generator leaves this type's JSON
// decoding to the default otherwise.
func (in *CreateUserRequest) UnmarshalJSON(b []byte) error {
	type plain CreateUserRequest // no methods: no recursion
	var legacy struct {
		plain
		LegacyApiAccess *ApiAccess `json:"ApiAccess"`
	}
	if err := json.Unmarshal(b, &legacy); err != nil {
		return err
	}
	*in = CreateUserRequest(legacy.plain)
	if in.ApiAccess == nil {
		in.ApiAccess = legacy.LegacyApiAccess
	}
	return nil
}
