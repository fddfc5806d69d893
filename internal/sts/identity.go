package sts

import (
	"encoding/xml"
	"strings"

	"github.com/openfinspace/openfinspace/internal/auth"
)

type getCallerIdentityResponse struct {
	XMLName  xml.Name                `xml:"https://sts.amazonaws.com/doc/2011-06-15/ GetCallerIdentityResponse"`
	Result   getCallerIdentityResult `xml:"GetCallerIdentityResult"`
	Metadata responseMetadata        `xml:"ResponseMetadata"`
}

type getCallerIdentityResult struct {
	UserID  string `xml:"UserId"`
	Account string `xml:"Account"`
	Arn     string `xml:"Arn"`
}

// Identity is what GetCallerIdentity reports for a principal.
type Identity struct {
	UserID, Account, ARN string
}

// CallerIdentity returns the identity of p, which signed with accessKeyID;
// account is the server's account, used when p carries none.
func CallerIdentity(p auth.Principal, accessKeyID, account string) Identity {
	id := Identity{UserID: accessKeyID, Account: p.Account, ARN: p.ARN}
	if id.Account == "" {
		id.Account = account
	}
	switch p.Kind {
	case auth.Root:
		id.UserID = id.Account
		if id.ARN == "" {
			id.ARN = "arn:aws:iam::" + id.Account + ":root"
		}
	case auth.AssumedRole:
		// arn:aws:sts::<account>:assumed-role/<role>/<session>
		if i := strings.LastIndexByte(p.ARN, '/'); i >= 0 && p.RoleARN != "" {
			id.UserID = RoleID(p.RoleARN) + ":" + p.ARN[i+1:]
		}
	case auth.FinSpaceUser:
		if p.UserID != "" {
			id.UserID = p.UserID
		}
	}
	return id
}

func (h *Handler) getCallerIdentity(req *request) any {
	id := CallerIdentity(req.res.Principal, req.res.AccessKeyID, h.Account)
	return &getCallerIdentityResponse{
		Result:   getCallerIdentityResult{UserID: id.UserID, Account: id.Account, Arn: id.ARN},
		Metadata: responseMetadata{RequestID: req.id},
	}
}
