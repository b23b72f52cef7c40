// The extraction functions are pure: a corpus of real-looking signup and 2FA
// mails (and mails whose numbers are not codes) checked without a sink.
import { describe, expect, test } from "vitest";
import { findCodes } from "../../sink/extract/codes.js";
import { extractFrom } from "../../sink/extract/extract.js";
import { findLinks, htmlLinks, textHost, textLinks } from "../../sink/extract/links.js";

describe("findCodes: mails that carry a code", () => {
  const cases: [string, string, string, string][] = [
    [
      "GitHub",
      "[GitHub] Please verify your device",
      "Verification code: 482913\n\nIf you did not attempt to sign in, change your password.",
      "482913",
    ],
    [
      "Google",
      "G-739204 is your Google verification code",
      "Your Google verification code is G-739204.",
      "739204",
    ],
    [
      "Slack",
      "Slack confirmation code: KQ4-ZT9",
      "Your confirmation code is below — enter it in your open browser window.\n\n  582 031\n",
      "582031",
    ],
    [
      "Stripe",
      "Your Stripe login code",
      "Hi,\n\nUse this code to sign in:\n\n    614 227\n\nThis code expires in 10 minutes.\n\nStripe, 354 Oyster Point Blvd, South San Francisco, CA 94080",
      "614227",
    ],
    [
      "Microsoft",
      "Microsoft account security code",
      "Please use the following security code for the Microsoft account ab***@example.com.\n\nSecurity code: 0934\n\nIf you don't recognize the Microsoft account, you can click here to remove your email address.",
      "0934",
    ],
    [
      "Bank OTP",
      "One-time passcode",
      "Your one-time passcode (OTP) is 55120473. Do not share it. It is valid for 5 minutes. Call 1-800-555-0199 if this wasn't you.",
      "55120473",
    ],
    ["before the keyword", "Sign in to Acme", "482190 is your Acme sign-in code.", "482190"],
    [
      "alphanumeric",
      "Confirm your email",
      "Enter this verification code in the app: X7K2QP\n\nThanks, the team",
      "X7K2QP",
    ],
    [
      "German",
      "Ihr Bestätigungscode",
      "Ihr Bestätigungscode lautet 731905. Er ist 15 Minuten gültig.",
      "731905",
    ],
    [
      "PIN",
      "New device",
      "Your PIN is 4471.\nVisit https://example.com/account/4471?x=1 to manage devices.",
      "4471",
    ],
    [
      "HTML-only as text",
      "Verify your account",
      "VERIFY YOUR ACCOUNT\n\nYour code\n\n9 2 8\n\nCODE: 208816\n\n© 2026 Example Inc.",
      "208816",
    ],
  ];
  test.each(cases)("%s", (_name, subject, text, code) => {
    expect(findCodes(subject, text)[0]).toBe(code);
  });
});

describe("findCodes: numbers that are not codes", () => {
  const cases: [string, string, string][] = [
    [
      "newsletter with a year and price",
      "Our 2026 collection",
      "New arrivals for 2026. Prices from $1299 or 1299.00 EUR. Order #48291732 ships today.",
    ],
    ["receipt", "Your receipt", "Invoice 20261201 — total 4,250.00 USD. Questions? Call +1 (555) 123-4567."],
    [
      "zip code in an address",
      "Welcome",
      "Thanks for joining! Our office: 1600 Amphitheatre Parkway, Mountain View, CA 94043. Zip code 94043.",
    ],
    ["promo code", "Sale", "Use promo code SAVE2026 at checkout for 20% off."],
    [
      "dates and times",
      "Meeting",
      "Your code was used on 2026-12-01 at 10:30:15 from 192.168.10.20, version 2.14.1021.",
    ],
    ["a code inside a URL only", "Confirm", "Confirm here: https://example.com/confirm?code=839201&u=7"],
    ["no keyword", "Hello", "Order 583920 is on its way."],
  ];
  test.each(cases)("%s", (_name, subject, text) => {
    expect(findCodes(subject, text)).toEqual([]);
  });
});

describe("links", () => {
  test("every <a href> with its visible text, entities decoded, relative and javascript: links dropped", () => {
    const html = `<p>Hi <a href="https://app.example.com/verify?t=1&amp;u=2">Verify <b>email</b></a>
      <a href="/relative">rel</a> <a href="javascript:alert(1)">x</a> <a href="mailto:help@example.com">help@example.com</a>
      <a href=" HTTPS://example.com/img "><img alt="Logo" src="cid:x"></a></p>`;
    expect(htmlLinks(html)).toEqual([
      { href: "https://app.example.com/verify?t=1&u=2", text: "Verify email", mismatch: false },
      { href: "mailto:help@example.com", text: "help@example.com", mismatch: false },
      { href: "HTTPS://example.com/img", text: "Logo", mismatch: false },
    ]);
  });

  test("visible text showing another host than the href is flagged", () => {
    const html = `<a href="https://evil.example.net/login">https://accounts.bank.example/login</a>
      <a href="https://bank.example.evil.net/">bank.example</a>
      <a href="https://accounts.bank.example/">www.bank.example</a>
      <a href="https://click.mailer.example/c/1">Click here</a>
      <a href="https://files.example/report.pdf">report.pdf</a>
      <a href="mailto:x@evil.example">support@bank.example</a>`;
    expect(htmlLinks(html).map((l) => l.mismatch)).toEqual([true, true, false, false, false, true]);
  });

  test("textHost reads a scheme, www. or a whole-text domain, not a word", () => {
    expect(textHost("Go to https://Example.COM/x")).toBe("example.com");
    expect(textHost("www.example.org")).toBe("example.org");
    expect(textHost("example.org/path")).toBe("example.org");
    expect(textHost("Reset your password")).toBeNull();
    expect(textHost("v1.2")).toBeNull();
  });

  test("bare URLs in the text part; trailing punctuation is not part of them; HTML duplicates are dropped", () => {
    expect(
      textLinks("Confirm at https://shop.test/confirm?t=abc. Or ftp://x.test/ or www.nope.test"),
    ).toEqual([
      { href: "https://shop.test/confirm?t=abc", text: "https://shop.test/confirm?t=abc", mismatch: false },
    ]);
    const links = findLinks(
      '<a href="https://a.test/1">One</a>',
      "One: https://a.test/1\nTwo: https://b.test/2",
    );
    expect(links.map((l) => l.href)).toEqual(["https://a.test/1", "https://b.test/2"]);
  });

  test("extractFrom combines both", () => {
    const e = extractFrom({
      subject: "Your verification code",
      text: "Your code is 550913. Or click https://shop.test/v?c=550913",
      html: null,
    });
    expect(e).toEqual({
      codes: ["550913"],
      links: [
        { href: "https://shop.test/v?c=550913", text: "https://shop.test/v?c=550913", mismatch: false },
      ],
    });
  });
});
