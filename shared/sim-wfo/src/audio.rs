//! `PUT /api/rest/wfo/contact/{contactId}/audio`: streamed to a file, hashed on the way.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use wfo_domain::wfo::AudioUploaded;

use crate::api::{ApiError, Id, drain, drain_stream};
use crate::state::StoredAudio;
use crate::{SimHandle, messages};

const ACCEPTED_TYPES: [&str; 2] = ["audio/mpeg", "audio/wav"];

pub(crate) async fn upload(State(sim): State<SimHandle>, Id(id): Id, req: Request) -> Response {
    let held = sim
        .0
        .held_uploads
        .fetch_update(
            std::sync::atomic::Ordering::SeqCst,
            std::sync::atomic::Ordering::SeqCst,
            |n| n.checked_sub(1),
        )
        .is_ok();
    if held {
        // Read everything, store nothing, answer never: the client must give up.
        drain(req.into_body()).await;
        return std::future::pending::<Response>().await;
    }
    match store(&sim, id, req).await {
        Ok(uploaded) => Json(uploaded).into_response(),
        Err(e) => e.into_response(),
    }
}

fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

fn io_error(what: &str, e: std::io::Error) -> ApiError {
    ApiError::internal(format!("the simulator could not {what}: {e}"))
}

async fn store(sim: &SimHandle, id: i64, req: Request) -> Result<AudioUploaded, ApiError> {
    let (parts, body) = req.into_parts();
    let media = media_type(&parts.headers);
    if !ACCEPTED_TYPES.contains(&media.as_str()) {
        drain(body).await;
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            messages::unsupported_audio_type_message(&media),
        ));
    }
    if !sim.0.db().contacts.contains_key(&id) {
        drain(body).await;
        return Err(ApiError::not_found(messages::not_found_message(&format!(
            "contact {id}"
        ))));
    }
    let limit = sim.0.max_audio_bytes;
    let too_large = || ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, messages::audio_too_large_message(limit));
    if content_length(&parts.headers).is_some_and(|len| len > limit) {
        drain(body).await;
        return Err(too_large());
    }

    let audio_dir = &sim.0.storage.audio_dir;
    let name = format!("{id}-{}.audio", uuid::Uuid::new_v4().simple());
    let part = audio_dir.join(format!(".{name}.part"));
    // Memory mode keeps a small upload in memory (see `MEMORY_AUDIO_FILE_MAX`); one that
    // grows past it, or that the budget cannot take, goes to a file like any other.
    let persistent = sim.0.storage.state_dir.is_some();
    let mut sink =
        if !persistent && content_length(&parts.headers).is_none_or(|len| len <= crate::MEMORY_AUDIO_FILE_MAX as u64) {
            Sink::Memory(Kept::default())
        } else {
            Sink::File(create_part(&part).await?)
        };
    let mut hasher = Sha256::new();
    let mut total: u64 = 0;
    let mut stream = body.into_data_stream();
    let written: Result<(), ApiError> = async {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| ApiError::bad_request(format!("the audio body could not be read: {e}")))?;
            total += chunk.len() as u64;
            if total > limit {
                return Err(too_large());
            }
            hasher.update(&chunk);
            if let Sink::Memory(kept) = &mut sink
                && kept.len + chunk.len() > crate::MEMORY_AUDIO_FILE_MAX
            {
                sink = Sink::File(spill(&part, &kept.chunks).await?);
            }
            match &mut sink {
                Sink::Memory(kept) => {
                    kept.len += chunk.len();
                    kept.chunks.push(chunk);
                }
                Sink::File(file) => file
                    .write_all(&chunk)
                    .await
                    .map_err(|e| io_error("write the audio file", e))?,
            }
        }
        if let Sink::Memory(kept) = &mut sink {
            let kept = std::mem::take(kept);
            match sim.0.keep_in_memory(&name, kept.chunks, kept.len) {
                Ok(()) => return Ok(()),
                Err(back) => sink = Sink::File(spill(&part, &back).await?),
            }
        }
        if let Sink::File(file) = &mut sink {
            file.flush().await.map_err(|e| io_error("write the audio file", e))?;
            // Durable only when the simulator keeps its state: in memory mode the audio
            // lives in a temp dir removed with the simulator.
            if persistent {
                file.sync_data()
                    .await
                    .map_err(|e| io_error("write the audio file", e))?;
            }
        }
        Ok(())
    }
    .await;
    let on_disk = matches!(sink, Sink::File(_));
    drop(sink);
    if let Err(e) = written {
        if on_disk {
            let _ = tokio::fs::remove_file(&part).await;
        }
        if e.status == StatusCode::PAYLOAD_TOO_LARGE {
            drain_stream(stream).await;
        }
        return Err(e);
    }
    if on_disk {
        tokio::fs::rename(&part, audio_dir.join(&name))
            .await
            .map_err(|e| io_error("store the audio file", e))?;
    }

    let sha256 = hex::encode(hasher.finalize());
    let content_type = media;
    let stored = StoredAudio {
        bytes: total,
        sha256: sha256.clone(),
        content_type,
        file: name.clone(),
    };
    let replaced = sim
        .0
        .db()
        .contacts
        .get_mut(&id)
        .map(|contact| contact.audio.replace(stored));
    let Some(previous) = replaced else {
        // The contact went while the audio streamed: what was stored for it goes too.
        sim.0.remove_audio(&name).await;
        return Err(ApiError::not_found(messages::not_found_message(&format!(
            "contact {id}"
        ))));
    };
    sim.0.stats().audio_uploads += 1;
    sim.0.audio_arrived(id);
    sim.0.persist().await?;
    if let Some(previous) = previous {
        sim.0.remove_audio(&previous.file).await;
    }
    Ok(AudioUploaded {
        audio_uploaded: true,
        bytes: i64::try_from(total).unwrap_or(i64::MAX),
        sha256,
    })
}

/// Where an upload's bytes go while it streams.
enum Sink {
    Memory(Kept),
    File(tokio::fs::File),
}

/// An upload kept in memory: the body's chunks as they came (no copy), and their length.
#[derive(Default)]
struct Kept {
    chunks: Vec<bytes::Bytes>,
    len: usize,
}

async fn create_part(part: &std::path::Path) -> Result<tokio::fs::File, ApiError> {
    tokio::fs::File::create(part)
        .await
        .map_err(|e| io_error("create the audio file", e))
}

/// Move what was kept in memory so far into a new part file, which takes the rest.
async fn spill(part: &std::path::Path, kept: &[bytes::Bytes]) -> Result<tokio::fs::File, ApiError> {
    let mut file = create_part(part).await?;
    for chunk in kept {
        file.write_all(chunk)
            .await
            .map_err(|e| io_error("write the audio file", e))?;
    }
    Ok(file)
}
