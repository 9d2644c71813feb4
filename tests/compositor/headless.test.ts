// The headless backend against the backend contract.
import { HeadlessBackend } from "../../src/compositor/backend/headless.ts";
import { backendContract } from "./backend.contract.ts";

backendContract("headless", (o) => new HeadlessBackend(o));
