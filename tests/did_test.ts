import assert from "node:assert/strict";
import { isValidDid, MAX_DID_LENGTH } from "../src/did.ts";

Deno.test("isValidDid() accepts atproto DIDs", () => {
  for (
    const did of [
      "did:plc:ewvi7nxzyoun6zhxrhs64oiz",
      "did:web:example.com",
      "did:web:localhost%3A8080",
      "did:method:val:two",
      "did:m:v",
      "did:method:-:_:.",
      "did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme",
      `did:plc:${"a".repeat(MAX_DID_LENGTH - 8)}`,
    ]
  ) {
    assert.equal(isValidDid(did), true, did);
  }
});

Deno.test("isValidDid() rejects what atproto rejects", () => {
  for (
    const value of [
      "",
      "did",
      "did:",
      "did:plc",
      "did:plc:",
      "DID:plc:abc",
      "did:PLC:abc",
      "did:pl1c:abc",
      "did:plc:abc:",
      "did:plc:abc%",
      "did:plc:abc?query",
      "did:plc:abc#frag",
      "did:plc:ab c",
      "did:plc:abcé",
      "did:plc:abc\n",
      " did:plc:abc",
      "alice.bsky.social",
      "at://did:plc:abc",
      `did:plc:${"a".repeat(MAX_DID_LENGTH - 7)}`,
    ]
  ) {
    assert.equal(isValidDid(value), false, JSON.stringify(value));
  }
  for (const value of [null, undefined, 42, {}, ["did:plc:abc"]]) {
    assert.equal(isValidDid(value), false);
  }
});
