import assert from "node:assert/strict";
import {
  extractBearerToken,
  MAX_AUTHORIZATION_LENGTH,
} from "../src/_bearer.ts";

const SEAL_LIKE = "Fe26.2*1*ab12*iv_-*ct*1767225600000*cd34*mac~2";

Deno.test("extractBearerToken() follows RFC 6750 with Iron's * admitted", async (t) => {
  const accepted: [string, string, string][] = [
    ["an Iron seal", `Bearer ${SEAL_LIKE}`, SEAL_LIKE],
    ["a lowercase scheme", `bearer ${SEAL_LIKE}`, SEAL_LIKE],
    ["a mixed-case scheme", `BeArEr ${SEAL_LIKE}`, SEAL_LIKE],
    ["b64token characters", "Bearer aZ09-._~+/", "aZ09-._~+/"],
    ["trailing = padding", "Bearer abc==", "abc=="],
  ];
  for (const [name, header, token] of accepted) {
    await t.step(`accepts ${name}`, () => {
      assert.deepEqual(extractBearerToken(header), { token, error: null });
    });
  }
  const missing: [string, string | null | undefined][] = [
    ["null", null],
    ["undefined", undefined],
    ["an empty header", ""],
  ];
  for (const [name, header] of missing) {
    await t.step(`reports NO_TOKEN for ${name}`, () => {
      assert.equal(extractBearerToken(header).error, "NO_TOKEN");
    });
  }
  const invalid: [string, string][] = [
    ["another scheme", "Basic dXNlcjpwYXNz"],
    ["the scheme alone", "Bearer"],
    ["the scheme and a space", "Bearer "],
    ["two spaces", `Bearer  ${SEAL_LIKE}`],
    ["a tab", `Bearer\t${SEAL_LIKE}`],
    ["no space", `Bearer${SEAL_LIKE}`],
    ["a leading space", ` Bearer ${SEAL_LIKE}`],
    ["a trailing space", `Bearer ${SEAL_LIKE} `],
    ["two tokens", "Bearer abc def"],
    ["= inside the token", "Bearer ab=c"],
    ["a quote", 'Bearer "abc"'],
    ["a comma", "Bearer abc,def"],
    ["unicode", "Bearer abcé"],
    ["a newline", "Bearer abc\ndef"],
    [
      "a token over the length bound",
      `Bearer ${"a".repeat(MAX_AUTHORIZATION_LENGTH)}`,
    ],
    ["a 64 KiB header", `Bearer ${"*".repeat(64 * 1024)}`],
  ];
  for (const [name, header] of invalid) {
    await t.step(`reports INVALID_TOKEN for ${name}`, () => {
      assert.deepEqual(extractBearerToken(header), {
        token: null,
        error: "INVALID_TOKEN",
      });
    });
  }
});

Deno.test("extractBearerToken() never throws on non-string input", () => {
  for (const value of [42, {}, [], true, Symbol("x")]) {
    assert.equal(
      extractBearerToken(value as unknown as string).error,
      "NO_TOKEN",
    );
  }
});
