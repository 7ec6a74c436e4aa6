"""Where each clause's promise is written: the exact words, the section, the public address.

A report must stand on its own: a maintainer handed it has none of this repository's notes, so every
clause quotes the sentence(s) it checks, names the section they come from and links the public document.
`DOCS` are the documents; `CITATIONS` maps a clause id to its quotes. A clause without an entry here
falls back to its own short `source`/`quote` (see clauses.py), so adding a clause never breaks a report.

Quotes from the 88API page are verbatim (its field lists are written "name • Type: X • Description: Y";
they are quoted as one line). The upstream proxy is documented mostly by its source code: its quotes
are the code's behaviour in one sentence with the file it is read from, and are marked as such.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Doc:
    title: str
    url: str | None


@dataclass(frozen=True)
class Cite:
    doc: str  # a key of DOCS
    section: str
    text: str  # the exact words checked

    def as_dict(self) -> dict[str, str | None]:
        doc = DOCS[self.doc]
        return {"document": doc.title, "url": doc.url, "section": self.section, "text": self.text}


DOCS: dict[str, Doc] = {
    "88api": Doc("88API documentation: Midjourney Image Format (Midjourney Proxy/Midjourney Proxy Plus)",
                 "https://docs.88api.ai/en/docs/api/image/midjourney-proxy-image/"),
    "proxy": Doc("novicezk/midjourney-proxy v2.6.3 (the open-source proxy; behaviour read from its source)",
                 "https://github.com/novicezk/midjourney-proxy"),
    "plus": Doc("midjourney-proxy-plus API documentation (docs/api.md)",
                "https://github.com/litter-coder/midjourney-proxy-plus"),
    "relay": Doc("new-api relay (the relay 88API-style services run; behaviour read from its source)",
                 "https://github.com/Calcium-Ion/new-api"),
    "trueai": Doc("trueai-org/midjourney-proxy 11.x (the proxy that carries video, edits and retexture; behaviour "
                  "read from its source)", "https://github.com/trueai-org/midjourney-proxy"),
    "spec": Doc("mockmj openapi.yaml (the OpenAPI document of the API, shipped with mockmj)", None),
    "mockmj": Doc("mockmj documentation: Limits and protection (the limits a mockmj keeps, each a setting)", None),
    "discord": Doc("Midjourney's Discord bot (button ids as it emits them; read through the proxies that relay them)",
                   "https://docs.midjourney.com/"),
}

A = "88api"
RESPONSE = "📥 Response › Successful Response"
COMMON = "Common Response Format"
ERRORS = "Error Response › HTTP Status Codes"
ERROR_FORMAT = "Error Response › Error Response Format"
BODY = "Request Body Parameters"
CODE = " (behaviour of the source code)"

UNAUTHORIZED = Cite(A, ERRORS, "401 Unauthorized: Invalid or missing API key")
AUTH_HEADER = Cite(A, "Authentication Method", "Include the following in the request header for API key "
                                                "authentication: Authorization: Bearer $API_KEY")
PROXY_AUTH = Cite("proxy", "ApiAuthorizeInterceptor.java" + CODE,
                  "The header mj-api-secret is compared with mj.api-secret; a missing or wrong one gets HTTP 401 "
                  "with an empty body; without a configured secret no key is checked.")
STATUS_VALUES = Cite(A, RESPONSE, "status • Type: Enum string • Description: Task status — NOT_START Not started, "
                                  "SUBMITTED Submitted, MODAL Modal operation in progress, IN_PROGRESS In progress, "
                                  "FAILURE Failed, SUCCESS Successful, CANCEL Cancelled")
LIFECYCLE = Cite("proxy", "TaskStatus.java, Task.java" + CODE,
                 "NOT_START → SUBMITTED → IN_PROGRESS → SUCCESS or FAILURE; success() sets finishTime, "
                 "status SUCCESS and progress \"100%\"; fail(reason) sets finishTime, status FAILURE, failReason "
                 "and progress \"\".")
PROGRESS = Cite("proxy", "MessageHandler (progress parsing)" + CODE,
                "progress is the percentage Midjourney shows, e.g. \"0%\", \"15%\", \"31%\" … \"100%\": always a % "
                "suffix, no decimals; \"\" on FAILURE.")
CALLBACKS = Cite("proxy", "NotifyServiceImpl.java" + CODE,
                 "Each change of a task is POSTed as the task JSON (the shape of /task/{id}/fetch) to its "
                 "notifyHook; a notification whose status order is lower than the last one sent is dropped.")
PLUS_CALLBACK = Cite("plus", "notifyHook", "任务状态变化或进度改变时 (whenever the task status or progress changes)")
NOTIFY_HOOK = Cite(A, f"{BODY} › Submit Imagine Task",
                   "notifyHook • Type: String • Required: No • Description: Callback address after task completion, "
                   "uses global notifyHook when empty")
TASK_KEYS = Cite(A, "💡 Request Examples › Get Task by Specific ID › Response Example",
                 '{"action": "IMAGINE", "buttons": [...], "description": "string", "failReason": "string", '
                 '"finishTime": 0, "id": "string", "imageUrl": "string", "progress": "string", "prompt": "string", '
                 '"promptEn": "string", "properties": {}, "startTime": 0, "state": "string", "status": "NOT_START", '
                 '"submitTime": 0}')
CUSTOM_ID = Cite(A, f"{BODY} › Execute Action",
                 'customId • Type: String • Required: Yes • Description: Action identifier • Format: Specific format '
                 'string, such as "MJ::JOB::upsample::1::xxx"')
ACTION_TASK_ID = Cite(A, f"{BODY} › Execute Action",
                      "taskId • Type: String • Required: Yes • Description: Task ID for the action to be executed")
BAD_REQUEST = Cite(A, ERRORS, "400 Bad Request: Invalid request parameters")
PARAM_ERROR = Cite(A, COMMON, "code • Type: Integer • Description: Status code — 21 Parameter error")
NOT_FOUND = Cite(A, ERRORS, "404 Not Found: Resource not found")
PROXY_NOT_FOUND = Cite("proxy", "TaskController.java" + CODE,
                       "An unknown id on GET /task/{id}/fetch returns null, which Spring writes as HTTP 200 with an "
                       "empty body.")
ACCEPTED = Cite(A, COMMON, "code • Type: Integer • Description: Status code — 1 Submitted successfully")
RESULT = Cite(A, COMMON, "result • Type: String or array • Description: Return result, may be task ID or other data")
ERROR_BODY = Cite(A, ERROR_FORMAT, '{"code": `<error_code>`, "description": "Error description information", '
                                   '"result": null}')
FLOW_GRID = Cite(A, "Flow Description", "Image Processing • U1-U4: Upscale operations • V1-V4: Variation generation")
FLOW_MODAL = Cite(A, "🔄 Process Flow Diagram", "K -->|Modal Required| L[Submit Modal]; "
                                               "K -->|Direct Execution| M[Execution Complete]")
PLUS_MODAL = Cite("plus", "/mj/submit/action", '{"code":21,"description":"窗口等待","result":"<newTaskId>"}: the new '
                                              "task is MODAL until /mj/submit/modal is called")
RELAY_COMPACT = Cite("relay", "relay/channel/midjourney (response rewriting)" + CODE,
                     'The relay rewrites upstream bodies by literal string replacement, e.g. "code":22 → '
                     '"code":1, so the JSON must be compact (no space after ":").')
SERVER_ERROR = Cite(A, ERRORS, "500 Internal Server Error: Internal server error")

TRUEAI_VIDEO = "/mj/submit/video (SubmitController)" + CODE

CITATIONS: dict[str, tuple[Cite, ...]] = {
    "IMG-2": (Cite("trueai", "U1-U4 results (image proxy of the Discord CDN)" + CODE,
                   "An upscale U1-U4 answers the grid cell at its own size (a 1792x2688 grid gives an 896x1344 "
                   "image); only Upscale (Subtle/Creative) doubles it."),),
    "VID-1": (Cite("trueai", TRUEAI_VIDEO,
                   "A finished VIDEO task carries videoUrl (the first video), videoUrls and imageUrls as lists of "
                   "{url, thumbnail}, one per video of the batch; the videos are MP4."),),
    "VID-2": (Cite("trueai", TRUEAI_VIDEO,
                   "Extend through the API: POST /mj/submit/video {action:\"extend\", taskId, index, motion, "
                   "prompt}."),
              Cite("relay", "relay/channel/midjourney (routes)" + CODE,
                   "The relay carries /mj/submit/video; its /submit/action does not map the video buttons."),),
    "VID-3": (Cite("trueai", TRUEAI_VIDEO,
                   "A blank prompt → 4 \"Prompt 不能为空\"; taskId without action \"extend\" → 4 \"任务类型错误\"; an "
                   "unknown parent → HTTP 404 with 3 \"关联任务不存在或已失效\"; a parent not SUCCESS → 4 "
                   "\"关联任务状态错误\"."),),
    "SCHEMA-1": (Cite(A, "Endpoints", "Query Tasks by ID List POST /mj/task/list-by-condition; Get Task by Specific "
                                      "ID GET /mj/task/{id}/fetch; Get Task Image Seed GET /mj/task/{id}/image-seed"),
                 Cite("spec", "paths", "every read-only operation's documented responses")),
    "SCHEMA-2": (Cite(A, "Endpoints", "Submit Imagine Task POST /mj/submit/imagine; Submit Blend Task POST "
                                      "/mj/submit/blend; Submit Describe Task POST /mj/submit/describe; ..."),
                 Cite("spec", "paths", "every submit operation's documented responses")),
    "ENV-1": (Cite(A, COMMON, "code • Type: Integer • Description: Status code"),),
    "ENV-2": (Cite(A, COMMON, "description • Type: String • Description: Response description information"),),
    "ENV-3": (RESULT, Cite("relay", "dto/midjourney.go" + CODE, "The relay reads result as a JSON string (the task "
                                                                  "id); a number does not decode.")),
    "ENV-4": (Cite(A, COMMON, "properties • Type: Object • Description: Extended properties"),),
    "ENV-5": (RELAY_COMPACT,),
    "ENV-6": (ERROR_BODY, Cite("proxy", "Spring Boot error handling" + CODE, 'HTTP 400 and 500 carry Spring\'s error '
                                                                           'JSON {"timestamp", "status", "error", '
                                                                           '"path"}; HTTP 401 has an empty body.')),
    "ENV-7": (ACCEPTED, Cite("proxy", "ReturnCode.java, SubmitResultVO" + CODE,
                             "code 1 comes with the description \"提交成功\" (submitted successfully).")),
    "TASK-1": (TASK_KEYS,),
    "TASK-2": (STATUS_VALUES,),
    "TASK-3": (Cite(A, RESPONSE, "action • Type: Enum string • Description: Task type — IMAGINE Create image, "
                                 "UPSCALE Upscale image, VARIATION Generate variation, ZOOM Zoom image, PAN Pan image, "
                                 "DESCRIBE Image description, BLEND Image blending, SHORTEN Shorten prompt, "
                                 "SWAP_FACE Face replacement"),
               Cite("proxy", "TaskAction.java" + CODE, "REROLL is an action of the proxy too."),
               Cite("trueai", "TaskAction.cs" + CODE, "VIDEO, EDIT and RETEXTURE are the actions of its video, edits "
                                                      "and retexture tasks.")),
    "TASK-4": (Cite(A, RESPONSE, "id • Type: String • Description: Task unique identifier"),
               Cite(A, f"{BODY} › Submit Imagine Task", "state • Type: String • Required: No • Description: Custom "
                                                         "state parameter for tracking requests")),
    "LIFE-1": (STATUS_VALUES, LIFECYCLE),
    "LIFE-2": (Cite("proxy", "TaskStatus.java" + CODE, "Terminal states: SUCCESS and FAILURE (and CANCEL in the plus "
                                                       "edition); a finished task is never worked on again."),),
    "LIFE-3": (Cite(A, RESPONSE, "progress • Type: String • Description: Task progress information"), PROGRESS),
    "LIFE-4": (PROGRESS,),
    "LIFE-5": (Cite(A, RESPONSE, "submitTime • Type: Integer • Description: Task submission timestamp"),
               Cite(A, RESPONSE, "startTime • Type: Integer • Description: Task execution start timestamp"),
               Cite(A, RESPONSE, "finishTime • Type: Integer • Description: Task completion timestamp")),
    "LIFE-6": (Cite(A, RESPONSE, "imageUrl • Type: String • Description: URL of the generated image"),),
    "LIFE-7": (Cite(A, RESPONSE, "buttons • Type: Object array • Description: Executable operation buttons — customId "
                                 "Action identifier"), CUSTOM_ID),
    "LIFE-8": (FLOW_GRID, Cite("proxy", "Discord button customIds" + CODE,
                               "A finished grid carries MJ::JOB::upsample::1..4::<hash>, MJ::JOB::variation::1..4::"
                               "<hash> and MJ::JOB::reroll::0::<hash>::SOLO (🔄).")),
    "LIFE-9": (Cite(A, "Endpoints › Execute Action", "POST /mj/submit/action: Perform subsequent operations on "
                                                    "generated images, such as upscaling, adjustments, etc."),
               CUSTOM_ID, ACTION_TASK_ID),
    "LIFE-10": (Cite(A, "Endpoints › Query Tasks by ID List", "Query task details based on specified task ID list."),
                Cite(A, f"{BODY} › Query Tasks by ID List", "ids • Type: String array • Required: Yes • Description: "
                                                             "List of task IDs to query")),
    "LIFE-11": (Cite(A, RESPONSE, "failReason • Type: String • Description: Task failure reason"),),
    "LIFE-12": (FLOW_MODAL, PLUS_MODAL),
    "BAD-1": (BAD_REQUEST, SERVER_ERROR),
    "BAD-2": (BAD_REQUEST, PARAM_ERROR),
    "BAD-3": (Cite(A, f"{BODY} › Submit Blend Task", "base64Array • Type: String array • Required: Yes • Description: "
                                                      "Base64 encoded array of images to blend • Format: Must include "
                                                      "2-5 base64 image strings"),
              Cite(A, f"{BODY} › Submit Describe Task", "base64 • Type: String • Required: Yes • Description: Base64 "
                                                         "encoding of the image to be described • Format: Complete "
                                                         "base64 string with MIME type prefix")),
    "BAD-4": (NOT_FOUND, PROXY_NOT_FOUND),
    "BAD-5": (ACTION_TASK_ID, CUSTOM_ID, NOT_FOUND),
    "BAD-6": (PARAM_ERROR, Cite("proxy", "SubmitController.java" + CODE,
                                "A blank prompt is refused with code 4 and the description \"prompt不能为空\".")),
    "AUTH-1": (UNAUTHORIZED, AUTH_HEADER, PROXY_AUTH),
    "AUTH-2": (UNAUTHORIZED, PROXY_AUTH),
    "AUTH-3": (Cite(A, ERRORS, "403 Forbidden: Insufficient permissions"),
               Cite("relay", "model/midjourney.go" + CODE, "Task queries are answered from the caller's own tasks "
                                                            "(filtered by user id).")),
    "AUTH-4": (AUTH_HEADER, PROXY_AUTH),
    "CB-1": (NOTIFY_HOOK, CALLBACKS, PLUS_CALLBACK),
    "CB-2": (CALLBACKS,),
    "CB-3": (NOTIFY_HOOK, CALLBACKS),
    # added for the documented sentences (contracts/test_documented.py)
    "TASK-5": (Cite(A, RESPONSE, "buttons • Type: Object array • Description: Executable operation buttons — customId "
                                 "Action identifier, emoji Button icon, label Button text, style Style (2=Primary, "
                                 "3=Green), type Type used internally by the system"),),
    "TASK-6": (Cite(A, RESPONSE, "prompt • Type: String • Description: Original prompt"),
               Cite(A, RESPONSE, "promptEn • Type: String • Description: English prompt")),
    "LIFE-13": (Cite(A, f"{BODY} › Submit Blend Task", "dimensions • Type: Enum string • Required: No • Options: "
                                                        "PORTRAIT: 2:3 ratio, SQUARE: 1:1 ratio, LANDSCAPE: 3:2 ratio "
                                                        "• Description: Output image aspect ratio settings"),),
    "LIFE-14": (Cite(A, "Endpoints › Submit Describe Task", "POST /mj/submit/describe: Generate text descriptions "
                                                             "based on input images."),
                Cite("proxy", "describe success handler" + CODE, "On success prompt, promptEn and "
                                                                 "properties.finalPrompt hold the description: the "
                                                                 "four numbered prompts.")),
    "ENV-8": (Cite(A, "Endpoints › Upload Files to Discord", "POST /mj/submit/upload-discord-images: Upload images "
                                                              "to the Discord platform."),
              RESULT),
    "IMG-1": (Cite(A, "💡 Best Practices › Image Format Requirements", "Supported image formats: JPEG/JPG, PNG, GIF "
                                                                     "(static), WEBP"),),
    "BAD-7": (Cite(A, f"{BODY} › Submit Swap Face Task", "sourceBase64 • Type: String • Required: Yes • Description: "
                                                          "Base64 encoding of the face source image"),
              Cite(A, f"{BODY} › Submit Swap Face Task", "targetBase64 • Type: String • Required: Yes • Description: "
                                                          "Base64 encoding of the target image"),
              BAD_REQUEST),
    "BAD-8": (Cite(A, f"{BODY} › Submit Imagine Task", "base64Array • Type: String array • Required: No • Description: "
                                                        "Base64 encoded array for image padding • Format: Each element "
                                                        "should be a complete base64 image string with MIME type "
                                                        "prefix"),
              Cite("proxy", "SubmitController.java" + CODE, "A base64Array item that is not a data URL is refused "
                                                            "with code 4, \"base64格式错误\".")),
    "LIFE-15": (Cite(A, f"{BODY} › Submit Imagine Task", "base64Array • Type: String array • Required: No • "
                                                          "Description: Base64 encoded array for image padding"),
                Cite("proxy", "imagine with reference images" + CODE, "The worker uploads each image and rewrites the "
                                                                      "prompt (and promptEn) as \"<url1> <url2> … "
                                                                      "\" + prompt.")),
    "LIFE-16": (Cite(A, "Feature table › Account Management", "Task cancellation function"),
                Cite(A, RESPONSE, "status • Type: Enum string • Description: Task status — … CANCEL Cancelled"),
                Cite("plus", "admin UI API (src/services/mj/api.ts)", "POST /mj/task/{id}/cancel → status CANCEL")),
    # what the API promises today (contracts/test_today.py and the checks every answer goes through)
    "BTN-1": (Cite(A, RESPONSE, "buttons • Type: Object array • Description: Executable operation buttons"),
              Cite("trueai", "src/Midjourney.Base/Models/CustomComponentModel.cs" + CODE,
                   "An upscaled V7 (and niji 7) image offers upsample_v7_2x_subtle and upsample_v7_2x_creative, V6.1 "
                   "upsample_v6r1_2x_*, V6 and niji 6 upsample_v6_2x_*, 5.x upsample_v5_2x and _4x; V8 and V8.1 offer "
                   "no Upscale, no Zoom and no Pan; Vary (Subtle/Strong/Region) exist for every version from 5."),
              Cite("discord", "Animate (June 2025)", "An upscaled image offers MJ::JOB::animate_high::1::<hash>::SOLO "
                                                     "and MJ::JOB::animate_low::1::<hash>::SOLO, 🎞️."),
              Cite("trueai", TRUEAI_VIDEO, "A finished VIDEO task offers MJ::JOB::video_virtual_upscale::<i>::<hash> "
                                           "for each video of the batch and a reroll; its upscale offers "
                                           "animate_high_extend and animate_low_extend.")),
    "BTN-2": (Cite(A, "Endpoints › Execute Action", "POST /mj/submit/action: Perform subsequent operations on "
                                                   "generated images, such as upscaling, adjustments, etc."),
              CUSTOM_ID, FLOW_MODAL),
    "SIZE-1": (Cite(A, "💡 Best Practices › Image Format Requirements", "Aspect ratio: Supports 1:1, 2:3, 3:2"),
               Cite("trueai", "U1-U4 results (image proxy of the Discord CDN)" + CODE,
                    "A grid is four cells of the job's aspect ratio; U1-U4 answer one cell at its own size (a "
                    "1792x2688 grid gives an 896x1344 image); Upscale (Subtle/Creative) doubles it.")),
    "VID-4": (Cite("trueai", TRUEAI_VIDEO,
                   "batchSize (1, 2 or 4; default 4) videos: videoUrls and imageUrls list one {url, thumbnail} per "
                   "video of the batch, and the buttons U1..Un one per video."),),
    "EDIT-1": (Cite("trueai", "/mj/submit/edits, /mj/submit/retexture (SubmitController)" + CODE,
                    "An edit makes an EDIT task described \"/edit <prompt>\"; a retexture a RETEXTURE task described "
                    "\"/retexture <prompt>\"; both finish as a grid of four."),),
    "DESC-2": (Cite(A, "Endpoints › Submit Describe Task", "POST /mj/submit/describe: Generate text descriptions "
                                                            "based on input images."),
               Cite("trueai", "/mj/submit/describe (SubmitController)" + CODE,
                    "The body carries base64 or link (an http(s):// URL of the image).")),
    "LIM-1": (BAD_REQUEST, PARAM_ERROR,
              Cite("mockmj", "Limits and protection", "prompt: max_prompt_chars, 6,000 characters (a Discord "
                                                      "slash-command option); state: 255; notifyHook: 2,000"),
              Cite("trueai", "SubmitController.java" + CODE, "A state over 255 characters is refused with code 4, "
                                                             "\"State参数过长，最大255字符\".")),
    "LIM-2": (BAD_REQUEST, Cite("mockmj", "Limits and protection", "request body: max_body_bytes, 32 MiB: HTTP 413")),
    "LIM-3": (Cite("trueai", "GET /mj/task/list (TaskController)" + CODE, "The latest 100 tasks, newest first."),
              Cite("mockmj", "Limits and protection", "/mj/task/list: list_limit, 100: the latest 100 tasks of the "
                                                      "key, newest first")),
    "ERR-1": (ERROR_BODY, BAD_REQUEST, PARAM_ERROR,
              Cite("proxy", "ReturnCode.java" + CODE, "1 is SUCCESS; refusals carry 3, 4, 9, 23 or 24 and a null "
                                                      "result.")),
    "LIFE-17": (Cite(A, RESPONSE, "progress • Type: String • Description: Task progress information"), LIFECYCLE),
    "URL-1": (Cite(A, RESPONSE, "imageUrl • Type: String • Description: URL of the generated image"),
              Cite("relay", "relay/channel/midjourney (image URLs)" + CODE, "The relay hands imageUrl, videoUrl and "
                                                                            "videoUrls to clients as they are.")),
    "CB-4": (NOTIFY_HOOK, CALLBACKS),
}


def citations_of(clause_id: str) -> list[dict[str, str | None]]:
    return [c.as_dict() for c in CITATIONS.get(clause_id, ())]
