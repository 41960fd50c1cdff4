// A session's page: times in the viewer's zone (times.js localises on import), "Notify me".

import "./times.js";
import { setUpFollows } from "./follow.js";

setUpFollows();
