// The per-app sliding window behind weft:app's notification and clipboard-write limits.
import { expect, test } from "bun:test";
import { AppBudget } from "../../src/runtime/weft-app/app-budget.ts";

test("at most max events per window, per app id; a refusal counts nothing; the window slides", async () => {
  const b = new AppBudget(3, 60_000);
  expect(b.active("org.a.b")).toBe(false);
  expect([b.take("org.a.b"), b.take("org.a.b"), b.take("org.a.b"), b.take("org.a.b")]).toEqual([true, true, true, false]);
  expect(b.active("org.a.b")).toBe(true);
  expect(b.take("org.c.d")).toBe(true); // another app has its own budget
  expect(b.limit).toBe("at most 3 per 60 s");
  const short = new AppBudget(1, 30);
  expect([short.take("org.a.b"), short.take("org.a.b")]).toEqual([true, false]);
  const t0 = performance.now();
  while (short.active("org.a.b")) {
    if (performance.now() - t0 > 5000) throw new Error("the window never slid");
    await Bun.sleep(5);
  }
  expect(short.take("org.a.b")).toBe(true);
});
