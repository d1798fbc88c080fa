// What `npm run stack` tells an engineer about reading payloads in the Web UI: first the sign-in
// URL, then the UI settings to choose (none when the codec server is served under the UI's own
// origin, see ui-front.ts). The token in the URL is the local stack's own codec credential.

export interface CodecSignIn {
  /** Opening it once stores the codec credential in an HttpOnly cookie for that host. */
  signInUrl: string;
  /** True when the UI needs no Codec Server setting at all (codec under the UI's origin). */
  noUiSettings: boolean;
  /** What to set in the UI's Codec Server dialog otherwise. */
  endpoint: string;
}

/**
 * @param uiUrl the Web UI's address
 * @param uiCodecEndpoint the endpoint the UI was started with: a path (under its own origin) or a URL
 * @param codecUrl the codec server's own address
 */
export function codecSignIn(
  uiUrl: string,
  uiCodecEndpoint: string | undefined,
  codecUrl: string,
  token: string,
): CodecSignIn {
  const underUi = uiCodecEndpoint?.startsWith('/') ?? false;
  const base = underUi ? `${uiUrl}${uiCodecEndpoint}` : codecUrl;
  return {
    signInUrl: `${base}/login?token=${encodeURIComponent(token)}`,
    noUiSettings: underUi,
    endpoint: base,
  };
}

export function codecSignInLines(signIn: CodecSignIn): string[] {
  const lines = [
    'Read decoded payloads in the Web UI (once per browser; the sign-in lasts 12 hours):',
    `  1. open ${signIn.signInUrl}`,
  ];
  if (signIn.noUiSettings) {
    lines.push(
      '  2. UI settings: none. The UI calls the codec server on its own origin, so the sign-in cookie goes along.',
      '     Use the same host name for the UI as in the sign-in URL (cookies are per host name).',
    );
  } else {
    lines.push(
      '  2. in the UI: the Codec Server settings (top right), "Use my browser setting",',
      `     endpoint ${signIn.endpoint}, turn on "Include cross-origin credentials", Apply.`,
    );
  }
  return lines;
}
