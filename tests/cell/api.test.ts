// The appd API's cell messages (docs/api.md, "Cell messages") through the one
// dispatcher every transport uses; `weft cell revoke/apply` over the Unix
// socket is tested in grants.test.ts.
import { describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Api } from "../../src/appd/api.ts";
import { SessionManager } from "../../src/appd/sessions.ts";
import { cellctlHarness } from "./helpers.ts";

const { dir, cellImage, start } = cellctlHarness("weft-cell-api-");

describe("CELL_REVOKE / CELL_APPLY_LAYER", () => {
  test("answered CELL_EPOCH by a cell; ERROR 6 without one; a refused layer is ERROR 1 and changes nothing", async () => {
    const api = new Api(new SessionManager());
    expect(await api.handle({ type: "CELL_REVOKE" })).toEqual({ type: "ERROR", code: 6, message: "this weft runs no cell (see `weft cell run`)" });
    expect(await api.handle(["CELL_APPLY_LAYER", "/nowhere"])).toMatchObject({ type: "ERROR", code: 6 });

    const { img } = cellImage("api");
    const base = join(dir.path, "api-base");
    mkdirSync(base);
    const c = await start([img, base], ["revoke-watch", "/data", "f.txt"]); // two layers: a private copy, so apply may write
    await c.waitFor("epoch 1: top secret\n");
    api.cell = { revoke: () => c.cell.advanceEpoch(), applyLayer: (p) => c.cell.applyLayer(p) };

    expect(await api.handle(["CELL_REVOKE"])).toEqual({ type: "CELL_EPOCH", epoch: 2 });
    await c.waitFor("epoch 2: top secret\n");
    const missing = await api.handle({ type: "CELL_APPLY_LAYER", path: join(dir.path, "missing") });
    expect(missing).toMatchObject({ type: "ERROR", code: 1 });
    expect((missing as { message: string }).message).toContain("missing");
    const bad = join(dir.path, "api-bad");
    mkdirSync(join(bad, "etc"), { recursive: true });
    writeFileSync(join(bad, "etc", "cell.toml"), "[limits]\nmemry_mib = 1\n");
    expect(await api.handle({ type: "CELL_APPLY_LAYER", path: bad })).toEqual({
      type: "ERROR",
      code: 1,
      message: `${bad}: etc/cell.toml: unknown key [limits].memry_mib (known: memory_mib, cpu_percent, cpu_s, timeout_s, max_children, children_mib)`,
    });
    expect(c.cell.epoch).toBe(2);
    expect(await api.handle({ type: "CELL_APPLY_LAYER" })).toMatchObject({ type: "ERROR", code: 1 });
    const good = join(dir.path, "api-good");
    mkdirSync(join(good, "etc"), { recursive: true });
    writeFileSync(join(good, "etc", "motd"), "hi");
    expect(await api.handle({ type: "CELL_APPLY_LAYER", path: good })).toEqual({ type: "CELL_EPOCH", epoch: 3 });
  }, 60_000);
});
